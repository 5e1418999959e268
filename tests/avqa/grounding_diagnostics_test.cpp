// The cell probe against hand-built caches and truth: features that mark the instrument's cells
// must be found, features that do not must score at chance.
#include "avqa/grounding_diagnostics.h"

#include <random>

#include <gtest/gtest.h>

#include "core/atomic_file.h"
#include "core/input_error.h"
#include "datasets/features/feature_cache.h"
#include "tests/avqa/hand_built_truth.h"
#include "tests/test_paths.h"

namespace avqa::net {
namespace {

namespace fs = std::filesystem;
using avqa::testing::offscreen_instrument;
using avqa::testing::scene;
using avqa::testing::TempDir;
using avqa::testing::visible_instrument;
using avqa::testing::write_truth;

constexpr int kGrid = 4;  // 4x4 cells over a 64-pixel frame: 16 pixels a cell
constexpr int kChannels = 8;
constexpr int kSegments = 2;

// One instrument per video, its box covering cell (row, col) exactly; sounding in second 0 only;
// another heard off screen all along.
synthetic::SceneTruth truth_for(const std::string& id, int row, int col) {
  const int x0 = col * 16, y0 = row * 16;
  return scene(id, 64, 64,
               {visible_instrument("violin", {x0, y0, x0 + 16, y0 + 16}, {true, false}),
                offscreen_instrument("piano", {true, true})});
}

// A cache of `videos` videos whose instrument sits in cell (v % 4, (v / 4) % 4); with
// `informative`, channel 0 of the instrument's cell is raised.
void write_dataset(const fs::path& dir, int videos, bool informative) {
  features::CacheLayout layout;
  for (int v = 0; v < videos; ++v)
    layout.video_ids.push_back("v" + std::to_string(v));
  layout.segments = kSegments;
  layout.fps = 1;
  layout.storage = features::StorageType::Float32;
  layout.modalities = {{"audio", {4}, "vggish", "random-init"},
                       {"visual", {kChannels, kGrid, kGrid}, "resnet18", "random-init"}};
  fs::create_directories(dir / "truth");
  auto writer = features::FeatureCacheWriter::create(dir / "features.h5", layout);
  std::mt19937 rng(5);
  std::normal_distribution<float> noise(0.f, 1.f);
  for (int v = 0; v < videos; ++v) {
    const int row = v % kGrid, col = (v / kGrid) % kGrid;
    write_truth(dir / "truth", truth_for("v" + std::to_string(v), row, col));
    features::VideoFeatures f;
    f.modalities["audio"] = std::vector<float>(kSegments * 4, 0.f);
    std::vector<float> maps(static_cast<std::size_t>(kSegments * kChannels * kGrid * kGrid));
    for (auto& x : maps)
      x = noise(rng);
    if (informative) {
      for (int t = 0; t < kSegments; ++t)
        maps[static_cast<std::size_t>((t * kChannels + 0) * kGrid * kGrid + row * kGrid + col)] +=
            4;
    }
    f.modalities["visual"] = maps;
    writer.write(static_cast<std::size_t>(v), f);
  }
}

std::vector<std::string> ids(int from, int to) {
  std::vector<std::string> out;
  for (int v = from; v < to; ++v)
    out.push_back("v" + std::to_string(v));
  return out;
}

TEST(TruthBoxes, ScaledVisibleBoxesWithTheirSoundingSecond) {
  const synthetic::SceneTruth truth = truth_for("v", 1, 2);
  const auto first = truth_boxes(truth, 0, 2.0);
  ASSERT_EQ(first.size(), 1u);  // the off-screen instrument has no box
  EXPECT_DOUBLE_EQ(first[0].x0, 64);
  EXPECT_DOUBLE_EQ(first[0].y1, 64);
  EXPECT_TRUE(first[0].sounding);
  EXPECT_FALSE(truth_boxes(truth, 1, 1.0).at(0).sounding);
  EXPECT_TRUE(truth_boxes(truth, 5, 1.0).empty());  // past the clip
  EXPECT_TRUE(first[0].contains(64, 32));
  EXPECT_FALSE(first[0].contains(96, 32));  // right edge excluded
}

TEST(CellProbe, FindsCellsThatMarkTheInstrumentAndNotOthers) {
  TempDir dir("cell_probe");
  write_dataset(dir / "good", 48, true);
  write_dataset(dir / "blind", 48, false);
  CellProbeOptions o;
  o.epochs = 30;
  o.batch = 64;  // enough steps on these few cells for the noise channels' weights to fade
  const CellProbeReport good =
      probe_cells(dir / "good/features.h5", dir / "good/truth", ids(0, 32), ids(32, 48), o);
  EXPECT_EQ(good.train_cells, 32u * kSegments * kGrid * kGrid);
  EXPECT_EQ(good.test_cells, 16u * kSegments * kGrid * kGrid);
  EXPECT_NEAR(good.positive_share, 1.0 / (kGrid * kGrid), 1e-9);
  EXPECT_GT(good.auc, 0.95);
  EXPECT_GT(good.balanced_accuracy, 0.9);
  EXPECT_GT(good.peak_hit, 0.9);
  EXPECT_EQ(good.peak_segments, 16u * kSegments);
  EXPECT_NEAR(good.peak_chance, 1.0 / (kGrid * kGrid), 1e-9);

  const CellProbeReport blind =
      probe_cells(dir / "blind/features.h5", dir / "blind/truth", ids(0, 32), ids(32, 48), o);
  EXPECT_NEAR(blind.auc, 0.5, 0.12);
  EXPECT_LT(blind.peak_hit, 0.3);

  // Sounding only: second 1 has no sounding box, so only second 0's segments are scored.
  o.sounding_only = true;
  const CellProbeReport sounding =
      probe_cells(dir / "good/features.h5", dir / "good/truth", ids(0, 32), ids(32, 48), o);
  EXPECT_EQ(sounding.peak_segments, 16u);

  // A video the cache lacks: the error names the cache.
  try {
    probe_cells(dir / "good/features.h5", dir / "good/truth", {"nope"}, ids(32, 48), o);
    FAIL() << "a missing video was accepted";
  } catch (const core::InputError& e) {
    EXPECT_EQ(e.where().file, (dir / "good/features.h5").string());
  }
}

// Audio features whose channel c rises while instrument c sounds (second 0; nothing sounds in
// second 1), or noise alone; one of three instruments per video.
void write_audio_dataset(const fs::path& dir, int videos, bool informative) {
  features::CacheLayout layout;
  for (int v = 0; v < videos; ++v)
    layout.video_ids.push_back("v" + std::to_string(v));
  layout.segments = kSegments;
  layout.fps = 1;
  layout.storage = features::StorageType::Float32;
  layout.modalities = {{"audio", {4}, "vggish", "random-init"},
                       {"visual", {kChannels, kGrid, kGrid}, "resnet18", "random-init"}};
  fs::create_directories(dir / "truth");
  auto writer = features::FeatureCacheWriter::create(dir / "features.h5", layout);
  std::mt19937 rng(7);
  std::normal_distribution<float> noise(0.f, 1.f);
  const std::vector<std::string> names = {"violin", "piano", "flute"};
  for (int v = 0; v < videos; ++v) {
    const int c = v % 3;
    write_truth(dir / "truth",
                scene("v" + std::to_string(v), 64, 64,
                      {offscreen_instrument(names[static_cast<std::size_t>(c)], {true, false})}));
    features::VideoFeatures f;
    std::vector<float> audio(kSegments * 4);
    for (auto& x : audio)
      x = noise(rng);
    if (informative) audio[static_cast<std::size_t>(c)] += 4;
    f.modalities["audio"] = audio;
    f.modalities["visual"] = std::vector<float>(kSegments * kChannels * kGrid * kGrid, 0.f);
    writer.write(static_cast<std::size_t>(v), f);
  }
}

TEST(AudioProbe, TellsTheSoundingInstrumentFromFeaturesThatCarryItAndNotFromNoise) {
  TempDir dir("audio_probe");
  write_audio_dataset(dir / "good", 48, true);
  write_audio_dataset(dir / "blind", 48, false);
  const AudioProbeReport good =
      probe_audio(dir / "good/features.h5", dir / "good/truth", ids(0, 32), ids(32, 48));
  EXPECT_EQ(good.train_seconds, 32u * kSegments);
  EXPECT_EQ(good.test_seconds, 16u * kSegments);
  EXPECT_EQ(good.classes_scored, 3u);  // the instruments that never sound are not scored
  EXPECT_GT(good.macro_auc, 0.95);
  EXPECT_EQ(good.top_seconds, 16u);  // second 0 of each test video
  EXPECT_GT(good.top_hit, 0.9);
  EXPECT_NEAR(good.top_chance, 1.0 / 22, 1e-6);  // float32 means

  const AudioProbeReport blind =
      probe_audio(dir / "blind/features.h5", dir / "blind/truth", ids(0, 32), ids(32, 48));
  EXPECT_NEAR(blind.macro_auc, 0.5, 0.2);
  EXPECT_LT(blind.top_hit, 0.6);  // three classes: a third by luck

  // An instrument MUSIC-AVQA does not have: the error names the truth file and the field.
  write_truth(dir / "good/truth",
              scene("v40", 64, 64, {offscreen_instrument("Theremin", {true, false})}));
  try {
    probe_audio(dir / "good/features.h5", dir / "good/truth", ids(0, 32), ids(32, 48));
    FAIL() << "an unknown instrument was accepted";
  } catch (const core::InputError& e) {
    EXPECT_EQ(e.where().file, (dir / "good/truth/v40.json").string());
    EXPECT_NE(std::string(e.what()).find("Theremin"), std::string::npos);
  }
  // A truth file without a field the generator writes: the error names the file and the field.
  core::write_file_atomically(
      dir / "good/truth/v41.json",
      R"({"video_id": "v41", "seconds": 2, "height": 64, "instruments": []})");
  try {
    probe_audio(dir / "good/features.h5", dir / "good/truth", ids(0, 32), ids(41, 42));
    FAIL() << "a truth file without its width was accepted";
  } catch (const core::InputError& e) {
    EXPECT_EQ(e.where().file, (dir / "good/truth/v41.json").string());
    EXPECT_EQ(e.where().field, "width");
  }
}

}  // namespace
}  // namespace avqa::net
