#include "datasets/features/feature_cache.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <signal.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

#include <gtest/gtest.h>

#include "core/input_error.h"
#include "datasets/features/half_float.h"
#include "tests/test_paths.h"

namespace avqa::features {
namespace {

namespace fs = std::filesystem;
using avqa::testing::TempDir;

CacheLayout small_layout(StorageType storage, int videos = 4) {
  CacheLayout layout;
  for (int i = 0; i < videos; ++i)
    layout.video_ids.push_back("vid" + std::to_string(i));
  layout.segments = 3;
  layout.fps = 1;
  layout.storage = storage;
  layout.modalities = {{"audio", {4}, "vggish", "random-init"},
                       {"visual", {2, 3, 3}, "resnet18", "weights.pt sha256:abc"}};
  layout.attributes["visual_normalization"] = "kinetics";
  return layout;
}

// Features that depend on the video and the position, exact in float16.
VideoFeatures features_for(const CacheLayout& layout, int video) {
  VideoFeatures f;
  for (const auto& m : layout.modalities) {
    std::vector<float> values(static_cast<std::size_t>(layout.segments) * m.segment_size());
    // Exact in float16: multiples of 1/16 below 64.
    for (std::size_t i = 0; i < values.size(); ++i)
      values[i] = static_cast<float>(video) + static_cast<float>(i) / 16.f;
    f.modalities[m.name] = values;
  }
  f.real_seconds = 2.5f + video;
  f.has_audio = video % 2 == 0;
  return f;
}

TEST(HalfFloat, RoundTripsAndRoundsToNearestEven) {
  for (const float v :
       {0.f, 1.f, -2.5f, 0.333251953125f, 65504.f, 6.103515625e-05f, 5.9604644775390625e-08f}) {
    EXPECT_EQ(half_to_float(float_to_half(v)), v) << v;
  }
  EXPECT_EQ(float_to_half(1.0f), 0x3C00);
  EXPECT_EQ(float_to_half(1.0f + 1.0f / 2048), 0x3C00);  // halfway between 1 and 1+2^-10: to even
  EXPECT_EQ(float_to_half(1e6f), 0x7C00);                // overflow: infinity
  EXPECT_TRUE(std::isnan(half_to_float(float_to_half(NAN))));
  EXPECT_NEAR(half_to_float(float_to_half(0.1f)), 0.1f, 1e-4);
}

class FeatureCacheTest : public ::testing::TestWithParam<StorageType> {};

TEST_P(FeatureCacheTest, WritesAndReadsBackByVideoId) {
  TempDir dir("cache");
  const fs::path path = dir / "features.h5";
  const CacheLayout layout = small_layout(GetParam());
  {
    FeatureCacheWriter writer = FeatureCacheWriter::create(path, layout);
    writer.write(2, features_for(layout, 2));
    writer.write(0, features_for(layout, 0));
    writer.mark_failed(3);
  }
  const FeatureCacheReader reader(path);
  EXPECT_EQ(reader.layout().video_ids, layout.video_ids);
  EXPECT_EQ(reader.layout().modalities[1].segment_shape, (std::vector<std::uint64_t>{2, 3, 3}));
  EXPECT_EQ(reader.layout().modalities[1].weights, "weights.pt sha256:abc");
  EXPECT_EQ(reader.layout().attributes.at("visual_normalization"), "kinetics");
  EXPECT_EQ(reader.status(), (std::vector<VideoStatus>{VideoStatus::Done, VideoStatus::Pending,
                                                       VideoStatus::Done, VideoStatus::Failed}));
  const std::size_t v = *reader.find("vid2");
  EXPECT_FLOAT_EQ(reader.real_seconds(v), 4.5f);
  EXPECT_TRUE(reader.has_audio(v));
  const auto expected = features_for(layout, 2).modalities.at("visual");
  EXPECT_EQ(reader.read("visual", v), expected);  // values are exact in float16 too
  // Segment 2 then 0: [2 x 18] values.
  const auto picked = reader.read("visual", v, {2, 0});
  ASSERT_EQ(picked.size(), 36u);
  EXPECT_EQ(picked[0], expected[36]);
  EXPECT_EQ(picked[18], expected[0]);
  EXPECT_FALSE(reader.find("vid9").has_value());
  EXPECT_THROW(reader.read("visual", *reader.find("vid1")), core::InputError);  // pending
  EXPECT_THROW(reader.read("visual", *reader.find("vid3")), core::InputError);  // failed
  EXPECT_THROW(reader.read("depth", v), core::InputError);
  EXPECT_THROW(reader.read("audio", v, {3}), std::out_of_range);
}

INSTANTIATE_TEST_SUITE_P(Storage,
                         FeatureCacheTest,
                         ::testing::Values(StorageType::Float16, StorageType::Float32));

TEST(FeatureCache, WrongShapesAndExistingFilesAreRefused) {
  TempDir dir("cache_refuse");
  const CacheLayout layout = small_layout(StorageType::Float16);
  FeatureCacheWriter writer = FeatureCacheWriter::create(dir / "c.h5", layout);
  VideoFeatures bad = features_for(layout, 0);
  bad.modalities["audio"].pop_back();
  EXPECT_THROW(writer.write(0, bad), std::invalid_argument);
  EXPECT_THROW(FeatureCacheWriter::create(dir / "c.h5", layout), core::InputError);
}

TEST(FeatureCache, ResumeRefusesAnotherLayout) {
  TempDir dir("cache_resume");
  const CacheLayout layout = small_layout(StorageType::Float16);
  FeatureCacheWriter::create(dir / "c.h5", layout);
  CacheLayout other = layout;
  other.modalities[1].weights = "other.pt sha256:def";
  try {
    FeatureCacheWriter::resume(dir / "c.h5", other);
    FAIL() << "resumed with other weights";
  } catch (const core::InputError& e) {
    EXPECT_NE(std::string(e.what()).find("other.pt"), std::string::npos) << e.what();
  }
  other = layout;
  other.video_ids.push_back("vid4");
  EXPECT_THROW(FeatureCacheWriter::resume(dir / "c.h5", other), core::InputError);
  EXPECT_NO_THROW(FeatureCacheWriter::resume(dir / "c.h5", layout));
}

// A writer killed with SIGKILL in the middle of its work leaves a cache that opens, keeps every
// finished video, and can be finished by resuming.
TEST(FeatureCache, SurvivesKillNineAndResumes) {
  TempDir dir("cache_kill");
  const fs::path path = dir / "c.h5";
  const CacheLayout layout = small_layout(StorageType::Float16, 40);
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    FeatureCacheWriter writer = FeatureCacheWriter::create(path, layout);
    for (int v = 0;; v = (v + 1) % 40) {
      writer.write(static_cast<std::size_t>(v), features_for(layout, v));
      if (v == 7) ::kill(::getpid(), SIGKILL);  // in the middle of the run, file still open
    }
  }
  int status = 0;
  ::waitpid(child, &status, 0);
  ASSERT_TRUE(WIFSIGNALED(status));
  {
    const FeatureCacheReader reader(path);
    for (int v = 0; v < 40; ++v) {
      const VideoStatus s = reader.status()[static_cast<std::size_t>(v)];
      if (v <= 7) {
        ASSERT_EQ(s, VideoStatus::Done) << v;
        EXPECT_EQ(reader.read("audio", static_cast<std::size_t>(v)),
                  features_for(layout, v).modalities.at("audio"));
      } else {
        EXPECT_EQ(s, VideoStatus::Pending) << v;
      }
    }
  }
  FeatureCacheWriter writer = FeatureCacheWriter::resume(path, layout);
  for (int v = 8; v < 40; ++v)
    writer.write(static_cast<std::size_t>(v), features_for(layout, v));
  const FeatureCacheReader reader(path);
  for (int v = 0; v < 40; ++v)
    ASSERT_EQ(reader.status()[static_cast<std::size_t>(v)], VideoStatus::Done);
  EXPECT_EQ(reader.read("visual", 39), features_for(layout, 39).modalities.at("visual"));
}

// Data-loader threads share one reader: every concurrent read equals the single-threaded one.
TEST(FeatureCache, ConcurrentReadsAgree) {
  TempDir dir("cache_threads");
  const CacheLayout layout = small_layout(StorageType::Float16, 12);
  {
    FeatureCacheWriter writer = FeatureCacheWriter::create(dir / "c.h5", layout);
    for (int v = 0; v < 12; ++v)
      writer.write(static_cast<std::size_t>(v), features_for(layout, v));
  }
  const FeatureCacheReader reader(dir / "c.h5");
  std::atomic<int> mismatches{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 300; ++i) {
        const int v = (i * 7 + t) % 12;
        const std::vector<int> segments = {i % 3, (i + 1) % 3};
        const auto got =
            reader.read(i % 2 ? "visual" : "audio", static_cast<std::size_t>(v), segments);
        const VideoFeatures expected = features_for(layout, v);
        const std::vector<float>& all = expected.modalities.at(i % 2 ? "visual" : "audio");
        const std::size_t size = all.size() / 3;
        for (std::size_t k = 0; k < segments.size(); ++k) {
          if (!std::equal(got.begin() + static_cast<std::ptrdiff_t>(k * size),
                          got.begin() + static_cast<std::ptrdiff_t>((k + 1) * size),
                          all.begin() + static_cast<std::ptrdiff_t>(
                                            static_cast<std::size_t>(segments[k]) * size))) {
            ++mismatches;
          }
        }
      }
    });
  }
  for (auto& th : threads)
    th.join();
  EXPECT_EQ(mismatches.load(), 0);
}

// h5dump (Debian's hdf5-tools) sees the layout and the attributes that say what made the features.
TEST(FeatureCache, ReadableByH5dump) {
  if (std::system("command -v h5dump >/dev/null 2>&1") != 0)
    GTEST_SKIP() << "h5dump not installed (package hdf5-tools)";
  TempDir dir("cache_h5dump");
  const CacheLayout layout = small_layout(StorageType::Float16);
  {
    FeatureCacheWriter writer = FeatureCacheWriter::create(dir / "c.h5", layout);
    writer.write(0, features_for(layout, 0));
  }
  const std::string out = (dir / "dump.txt").string();
  ASSERT_EQ(std::system(("h5dump -H -A '" + (dir / "c.h5").string() + "' > '" + out + "'").c_str()),
            0);
  std::ifstream in(out);
  const std::string dump((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  for (const char* part :
       {"ATTRIBUTE \"audio_backbone\"", "\"vggish\"", "ATTRIBUTE \"visual_weights\"",
        "DATASET \"visual\"", "( 4, 3, 2, 3, 3 )", "16-bit little-endian floating-point"}) {
    EXPECT_NE(dump.find(part), std::string::npos) << part << "\n" << dump;
  }
}

// The header says h5py reads the cache; so it does, values and layout alike.
TEST(FeatureCache, ReadableByH5py) {
  if (std::system("/usr/bin/python3 -c 'import h5py, numpy' >/dev/null 2>&1") != 0)
    GTEST_SKIP() << "python3-h5py is not installed (tools/install-deps.sh installs it)";
  TempDir dir("cache_h5py");
  const CacheLayout layout = small_layout(StorageType::Float16, 3);
  {
    FeatureCacheWriter writer = FeatureCacheWriter::create(dir / "f.h5", layout);
    writer.write(0, features_for(layout, 0));
    writer.write(2, features_for(layout, 2));
  }
  const std::string script = R"(
import sys, h5py, numpy
with h5py.File(sys.argv[1], 'r') as f, open(sys.argv[2], 'w') as out:
    ids = [x.decode() if isinstance(x, bytes) else x for x in f['video_ids'][()]]
    out.write(' '.join(ids) + '\n')
    out.write(' '.join(str(int(s)) for s in f['status'][()]) + '\n')
    out.write(str(f['visual'].shape) + ' ' + str(f['visual'].dtype) + '\n')
    out.write('%.6f %.6f\n' % (float(f['visual'][2, 1, 1, 2, 0]), float(f['audio'][0, 2, 3])))
)";
  std::ofstream(dir / "read.py") << script;
  ASSERT_EQ(std::system(("/usr/bin/python3 '" + (dir / "read.py").string() + "' '" +
                         (dir / "f.h5").string() + "' '" + (dir / "out.txt").string() + "'")
                            .c_str()),
            0);
  std::ifstream in(dir / "out.txt");
  std::string ids, status, shape, values;
  std::getline(in, ids);
  std::getline(in, status);
  std::getline(in, shape);
  std::getline(in, values);
  EXPECT_EQ(ids, "vid0 vid1 vid2");
  EXPECT_EQ(status, "1 0 1");
  EXPECT_EQ(shape, "(3, 3, 2, 3, 3) float16");
  // Row-major [video, segment, channel, y, x]: element (1, 1, 2, 0) of video 2 is index
  // 1*18 + 1*9 + 2*3 + 0 = 33 of its block; audio (2, 3) of video 0 is index 11.
  const auto visual = features_for(layout, 2).modalities.at("visual")[33];
  const auto audio = features_for(layout, 0).modalities.at("audio")[11];
  char expected[64];
  std::snprintf(expected, sizeof expected, "%.6f %.6f", visual, audio);
  EXPECT_EQ(values, expected);
}

}  // namespace
}  // namespace avqa::features
