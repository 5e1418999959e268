// sample_clip: the fixed-length input the feature extractors consume.
#include <algorithm>
#include <cmath>
#include <cstdlib>
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

constexpr int kFps = 4;
constexpr int kRate = 16000;

// A `seconds`-long clip at 4 fps whose frame f is a flat grey of level 10 * f, and whose audio
// in second s is a sine at 200 * (s + 1) Hz. The left quarter of every frame is red.
void write_clip(const fs::path& path, int seconds, bool audio, int rotation = 0) {
  VideoWriterOptions options;
  options.width = 64;
  options.height = 64;
  options.fps = kFps;
  options.sample_rate = audio ? kRate : 0;
  options.rotation = rotation;
  VideoFileWriter writer(path, options);
  std::vector<std::uint8_t> rgb(64 * 64 * 3);
  std::vector<float> chunk(kRate / kFps);
  for (int f = 0; f < seconds * kFps; ++f) {
    for (int y = 0; y < 64; ++y) {
      for (int x = 0; x < 64; ++x) {
        std::uint8_t* p = &rgb[(y * 64 + x) * 3];
        if (x < 16) {
          p[0] = 220, p[1] = 20, p[2] = 20;
        } else {
          p[0] = p[1] = p[2] = static_cast<std::uint8_t>(10 * f);
        }
      }
    }
    writer.write_frame(rgb.data(), 64 * 3);
    if (audio) {
      for (std::size_t i = 0; i < chunk.size(); ++i) {
        const double t = (f * chunk.size() + i) / static_cast<double>(kRate);
        chunk[i] =
            static_cast<float>(0.4 * std::sin(2 * M_PI * 200 * (static_cast<int>(t) + 1) * t));
      }
      writer.write_audio(chunk.data(), chunk.size());
    }
  }
  writer.finish();
}

int grey_at(const SampledClip& clip, int segment, int x, int y) {
  const std::size_t size = static_cast<std::size_t>(clip.frame_size);
  return clip
      .frames[((static_cast<std::size_t>(segment) * size + static_cast<std::size_t>(y)) * size +
               static_cast<std::size_t>(x)) *
                  3 +
              1];
}

// Dominant frequency of one segment's audio, by zero crossings.
double frequency(const SampledClip& clip, int segment) {
  int crossings = 0;
  const std::size_t begin =
      static_cast<std::size_t>(segment) * static_cast<std::size_t>(clip.samples_per_segment);
  for (std::size_t i = begin + 1; i < begin + static_cast<std::size_t>(clip.samples_per_segment);
       ++i) {
    crossings += (clip.audio[i - 1] < 0) != (clip.audio[i] < 0);
  }
  return crossings / 2.0 * kRate / clip.samples_per_segment;
}

TEST(SampleClip, TakesTheFrameNearestEachSegmentCentreAndEachSecondsAudio) {
  TempDir dir("sample");
  write_clip(dir / "clip.mp4", 5, true);
  SamplingOptions options;
  options.segments = 5;
  options.frame_size = 32;
  const SampledClip clip = sample_clip(dir / "clip.mp4", options);
  ASSERT_EQ(clip.frames.size(), 5u * 32 * 32 * 3);
  ASSERT_EQ(clip.audio.size(), 5u * kRate);
  EXPECT_TRUE(clip.has_audio);
  EXPECT_NEAR(clip.real_seconds, 5.0, 0.01);
  for (int s = 0; s < 5; ++s) {
    // Centre (s + 0.5) s is frame 4s + 2 exactly: grey level 10 * (4s + 2).
    EXPECT_NEAR(grey_at(clip, s, 24, 16), 10 * (4 * s + 2), 3) << "segment " << s;
    EXPECT_NEAR(frequency(clip, s), 200.0 * (s + 1), 5.0) << "segment " << s;
  }
  EXPECT_GT(grey_at(clip, 0, 2, 16), 0);  // resized, the red quarter is still on the left
}

TEST(SampleClip, ShortVideosRepeatTheirLastSecond) {
  TempDir dir("sample_short");
  write_clip(dir / "short.mp4", 2, true);
  SamplingOptions options;
  options.segments = 5;
  options.frame_size = 32;
  const SampledClip clip = sample_clip(dir / "short.mp4", options);
  EXPECT_NEAR(clip.real_seconds, 2.0, 0.01);
  for (int s = 2; s < 5; ++s) {
    EXPECT_EQ(grey_at(clip, s, 24, 16), grey_at(clip, 1, 24, 16)) << s;
    EXPECT_NEAR(frequency(clip, s), 400.0, 5.0) << s;
  }
}

TEST(SampleClip, MissingAudioIsSilenceAndFlagged) {
  TempDir dir("sample_silent");
  write_clip(dir / "silent.mp4", 3, false);
  SamplingOptions options;
  options.segments = 3;
  options.frame_size = 32;
  const SampledClip clip = sample_clip(dir / "silent.mp4", options);
  EXPECT_FALSE(clip.has_audio);
  ASSERT_EQ(clip.audio.size(), 3u * kRate);
  EXPECT_TRUE(std::all_of(clip.audio.begin(), clip.audio.end(), [](float x) { return x == 0.f; }));
}

TEST(SampleClip, RotationMetadataIsApplied) {
  TempDir dir("sample_rotated");
  write_clip(dir / "rotated.mp4", 1, false, /*rotation=*/90);
  SamplingOptions options;
  options.segments = 1;
  options.frame_size = 32;
  const SampledClip clip = sample_clip(dir / "rotated.mp4", options);
  EXPECT_EQ(clip.rotation, 90);
  // Turned a quarter clockwise, the red left quarter is now the top quarter.
  const auto red = [&](int x, int y) {
    return clip.frames[(static_cast<std::size_t>(y) * 32 + x) * 3] > 150;
  };
  EXPECT_TRUE(red(16, 2));
  EXPECT_FALSE(red(2, 16));
}

// Variable frame rate: ten red frames in the first second, then blue frames every 0.5 s. Picking
// by frame index at the average rate (4.3 fps) would give red for the second segment too.
TEST(SampleClip, VariableFrameRateUsesTimestamps) {
  if (std::system("command -v ffmpeg >/dev/null 2>&1") != 0)
    GTEST_SKIP() << "the ffmpeg command line makes this fixture";
  TempDir dir("sample_vfr");
  const std::string command =
      "ffmpeg -v error -y -f lavfi -i color=red:s=64x64:r=10:d=1 -f lavfi -i "
      "color=blue:s=64x64:r=2:d=5 "
      "-filter_complex '[0][1]concat=n=2:v=1[v]' -map '[v]' -vsync vfr -c:v libx264 -pix_fmt "
      "yuv420p '" +
      (dir / "vfr.mp4").string() + "'";
  ASSERT_EQ(std::system(command.c_str()), 0);
  SamplingOptions options;
  options.segments = 6;
  options.frame_size = 16;
  const SampledClip clip = sample_clip(dir / "vfr.mp4", options);
  // The last frame starts at 5.5 s; this file does not say how long it shows.
  EXPECT_GE(clip.real_seconds, 5.5);
  EXPECT_LE(clip.real_seconds, 6.0);
  const auto red = [&](int segment) {
    return clip.frames[static_cast<std::size_t>(segment) * 16 * 16 * 3 + 8 * 16 * 3 + 8 * 3] > 150;
  };
  EXPECT_TRUE(red(0));
  for (int s = 1; s < 6; ++s)
    EXPECT_FALSE(red(s)) << s;
}

TEST(SampleClip, BadFilesNameTheFile) {
  TempDir dir("sample_bad");
  std::ofstream(dir / "empty.mp4").close();
  for (const char* name : {"missing.mp4", "empty.mp4"}) {
    try {
      sample_clip(dir / name);
      FAIL() << name;
    } catch (const core::InputError& e) {
      EXPECT_NE(std::string(e.what()).find(name), std::string::npos);
    }
  }
}

}  // namespace
}  // namespace avqa::media
