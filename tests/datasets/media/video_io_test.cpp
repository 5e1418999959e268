// VideoFileWriter and decode_media together: what one writes, the other reads back.
#include <cmath>
#include <fstream>

#include <gtest/gtest.h>

#include "core/input_error.h"
#include "datasets/media/media_reader.h"
#include "datasets/media/video_file_writer.h"
#include "tests/test_paths.h"

namespace avqa::media {
namespace {

using avqa::testing::TempDir;
namespace fs = std::filesystem;

constexpr int kSize = 64;
constexpr int kFps = 4;
constexpr int kRate = 16000;
constexpr int kSeconds = 2;

// Frame f is a flat colour that changes with f, the audio a 440 Hz sine.
std::vector<std::uint8_t> flat_frame(int f) {
  std::vector<std::uint8_t> rgb(kSize * kSize * 3);
  for (std::size_t i = 0; i < rgb.size(); i += 3) {
    rgb[i] = static_cast<std::uint8_t>(40 + 20 * f);
    rgb[i + 1] = 128;
    rgb[i + 2] = static_cast<std::uint8_t>(200 - 10 * f);
  }
  return rgb;
}

void write_clip(const fs::path& path, bool audio) {
  VideoWriterOptions options;
  options.width = kSize;
  options.height = kSize;
  options.fps = kFps;
  options.sample_rate = audio ? kRate : 0;
  VideoFileWriter writer(path, options);
  std::vector<float> sine(kRate / kFps);
  for (int f = 0; f < kSeconds * kFps; ++f) {
    const auto rgb = flat_frame(f);
    writer.write_frame(rgb.data(), kSize * 3);
    if (audio) {
      for (std::size_t i = 0; i < sine.size(); ++i) {
        const double t = (f * sine.size() + i) / static_cast<double>(kRate);
        sine[i] = static_cast<float>(0.5 * std::sin(2 * M_PI * 440 * t));
      }
      writer.write_audio(sine.data(), sine.size());
    }
  }
  writer.finish();
}

TEST(VideoIo, FramesAndAudioRoundTrip) {
  TempDir dir("video_io");
  const fs::path path = dir / "clip.mp4";
  write_clip(path, /*audio=*/true);
  const DecodedMedia media = decode_media(path);
  EXPECT_EQ(media.width, kSize);
  EXPECT_EQ(media.height, kSize);
  ASSERT_EQ(media.frames.size(), static_cast<std::size_t>(kSeconds * kFps));
  EXPECT_NEAR(media.frame_rate, kFps, 1e-6);
  for (int f = 0; f < kSeconds * kFps; ++f) {
    const auto expected = flat_frame(f);
    const auto& got = media.frames[static_cast<std::size_t>(f)];
    const std::size_t centre = (kSize / 2 * kSize + kSize / 2) * 3;
    for (int c = 0; c < 3; ++c)
      EXPECT_NEAR(got[centre + c], expected[centre + c], 4) << "frame " << f << " channel " << c;
    EXPECT_NEAR(media.frame_times[static_cast<std::size_t>(f)], f / static_cast<double>(kFps),
                1e-6);
  }
  ASSERT_TRUE(media.has_audio);
  EXPECT_EQ(media.sample_rate, kRate);
  EXPECT_NEAR(static_cast<double>(media.samples.size()), kSeconds * kRate, kRate * 0.02);
  // The strongest frequency of the middle second is the sine's: count zero crossings.
  int crossings = 0;
  for (std::size_t i = kRate / 2 + 1; i < kRate / 2 + kRate; ++i)
    crossings += (media.samples[i - 1] < 0) != (media.samples[i] < 0);
  EXPECT_NEAR(crossings / 2.0, 440.0, 3.0);
}

TEST(VideoIo, FileWithoutAudio) {
  TempDir dir("video_io_silent");
  write_clip(dir / "silent.mp4", /*audio=*/false);
  const DecodedMedia media = decode_media(dir / "silent.mp4");
  EXPECT_FALSE(media.has_audio);
  EXPECT_TRUE(media.samples.empty());
  EXPECT_EQ(media.frames.size(), static_cast<std::size_t>(kSeconds * kFps));
}

TEST(VideoIo, UnfinishedWriterLeavesNothingBehind) {
  TempDir dir("video_io_unfinished");
  {
    VideoWriterOptions options;
    options.width = kSize;
    options.height = kSize;
    VideoFileWriter writer(dir / "never.mp4", options);
    const auto rgb = flat_frame(0);
    writer.write_frame(rgb.data(), kSize * 3);
  }  // destroyed without finish(), as after an error or interruption
  EXPECT_TRUE(fs::is_empty(dir.path()));
}

TEST(VideoIo, BadFilesGiveClearErrors) {
  TempDir dir("video_io_bad");
  std::ofstream(dir / "empty.mp4").close();
  std::ofstream(dir / "text.mp4") << "this is not a video";
  write_clip(dir / "full.mp4", true);
  {
    // A truncated copy: the first third of a valid file.
    std::ifstream in(dir / "full.mp4", std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    std::ofstream(dir / "truncated.mp4", std::ios::binary) << bytes.substr(0, bytes.size() / 3);
  }
  for (const char* name : {"missing.mp4", "empty.mp4", "text.mp4", "truncated.mp4"}) {
    try {
      decode_media(dir / name);
      FAIL() << name << " decoded";
    } catch (const core::InputError& e) {
      EXPECT_NE(std::string(e.what()).find(name), std::string::npos) << e.what();
    }
  }
}

TEST(VideoIo, WriterRejectsOddSizes) {
  TempDir dir("video_io_odd");
  VideoWriterOptions options;
  options.width = 63;
  EXPECT_THROW(VideoFileWriter(dir / "odd.mp4", options), std::invalid_argument);
}

}  // namespace
}  // namespace avqa::media
