// The oracle cache against a hand-built truth: each value where the layout says, nothing else set.
#include "avqa/oracle_features.h"

#include <gtest/gtest.h>

#include "core/atomic_file.h"
#include "core/input_error.h"
#include "datasets/features/feature_cache.h"
#include "datasets/synthetic/truth.h"
#include "datasets/vocabulary.h"
#include "tests/test_paths.h"

namespace avqa::net {
namespace {

namespace fs = std::filesystem;
using avqa::testing::TempDir;

int class_index(const std::string& name) {
  const auto& names = data::music_avqa_instruments();
  return static_cast<int>(std::find(names.begin(), names.end(), name) - names.begin());
}

// A 2-second 64x64 clip: a violin in the top-left quarter sounding in second 0 only (-20 dBFS,
// two onsets), a piano heard off screen in both seconds, a voiceover in second 1.
synthetic::SceneTruth two_seconds() {
  synthetic::SceneTruth t;
  t.video_id = "clip";
  t.seconds = 2;
  t.width = 64;
  t.height = 64;
  synthetic::InstrumentTruth violin;
  violin.name = "violin";
  violin.box = {0, 0, 32, 32};
  violin.boxes_per_second = {{0, 0, 32, 32}, {0, 0, 32, 32}};
  violin.sounding_per_second = {true, false};
  violin.rms_per_second = {0.1f, 0.f};
  violin.onsets = {0.1, 0.6};
  t.instruments.push_back(violin);
  synthetic::InstrumentTruth piano;
  piano.name = "piano";
  piano.visible = false;
  piano.sounding_per_second = {true, true};
  piano.rms_per_second = {0.001f, 0.001f};
  t.instruments.push_back(piano);
  t.voiceover = synthetic::VoiceoverTruth{"Hello.", 1.2, 1.8, -30};
  return t;
}

TEST(OracleFeatures, HoldTheTruthWhereTheLayoutSays) {
  TempDir dir("oracle_features");
  fs::create_directories(dir.path() / "truth");
  core::write_file_atomically(dir.path() / "truth/clip.json", synthetic::to_json(two_seconds()));
  OracleFeatureOptions o;
  o.grid = 2;
  o.channels = 48;
  o.audio_dims = 70;
  write_oracle_cache(dir.path() / "truth", {"clip"}, dir.path() / "oracle.h5", o);

  const features::FeatureCacheReader cache(dir.path() / "oracle.h5");
  EXPECT_EQ(cache.layout().segments, 2);
  for (const auto& m : cache.layout().modalities) {
    EXPECT_EQ(m.backbone, "oracle-truth");
    EXPECT_NE(m.weights.find("DIAGNOSTIC"), std::string::npos) << m.weights;
  }
  const int violin = class_index("violin"), piano = class_index("piano");
  const auto audio = cache.read("audio", 0);  // [2, 70]
  ASSERT_EQ(audio.size(), 140u);
  const auto at = [&](int second, int dim) {
    return audio[static_cast<std::size_t>(second * 70 + dim)];
  };
  EXPECT_EQ(at(0, violin), 1.f);
  EXPECT_EQ(at(1, violin), 0.f);
  EXPECT_EQ(at(0, piano), 1.f);  // heard off screen
  EXPECT_EQ(at(1, piano), 1.f);
  EXPECT_NEAR(at(0, 22 + violin), (-20.0 + 60) / 60, 2e-3);  // 0.1 RMS = -20 dBFS
  EXPECT_EQ(at(0, 22 + piano), 0.f);                         // -60 dBFS: the bottom of the scale
  EXPECT_EQ(at(0, 44 + violin), 2.f);
  EXPECT_EQ(at(0, 66), 0.f);
  EXPECT_EQ(at(1, 66), 1.f);
  float total = 0;
  for (const float v : audio)
    total += v;
  EXPECT_NEAR(total, 1 + 1 + 1 + (40.0 / 60) + 2 + 1, 2e-3);  // nothing else set

  const auto visual = cache.read("visual", 0);  // [2, 48, 2, 2]
  ASSERT_EQ(visual.size(), 2u * 48 * 4);
  const auto cell = [&](int second, int channel, int k) {
    return visual[static_cast<std::size_t>((second * 48 + channel) * 4 + k)];
  };
  for (int s = 0; s < 2; ++s) {
    EXPECT_EQ(cell(s, violin, 0), 1.f) << s;  // top-left cell: the violin's
    for (int k = 1; k < 4; ++k)
      EXPECT_EQ(cell(s, violin, k), 0.f) << s << " " << k;
    EXPECT_EQ(cell(s, 22 + violin, 0), s == 0 ? 1.f : 0.f) << s;  // sounding in second 0 only
    for (int k = 0; k < 4; ++k)
      EXPECT_EQ(cell(s, piano, k), 0.f);  // not on screen
  }
  float maps = 0;
  for (const float v : visual)
    maps += v;
  EXPECT_EQ(maps, 3.f);
}

TEST(OracleFeatures, RefuseAnInstrumentMusicAvqaDoesNotHaveNamingFileAndField) {
  TempDir dir("oracle_features_bad");
  fs::create_directories(dir.path() / "truth");
  synthetic::SceneTruth t = two_seconds();
  t.instruments[1].name = "theremin";
  core::write_file_atomically(dir.path() / "truth/clip.json", synthetic::to_json(t));
  try {
    write_oracle_cache(dir.path() / "truth", {"clip"}, dir.path() / "oracle.h5");
    FAIL() << "wrote features for a theremin";
  } catch (const core::InputError& e) {
    EXPECT_EQ(e.where().file, (dir.path() / "truth/clip.json").string());
    EXPECT_EQ(e.where().field, "instruments[1].class");
  }
}

}  // namespace
}  // namespace avqa::net
