#include "datasets/features/backbone_pretraining.h"

#include <fstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "core/input_error.h"
#include "datasets/features/backbones.h"
#include "datasets/features/extractor.h"
#include "datasets/synthetic/generator.h"
#include "tests/test_paths.h"
#include "tests/tiny_dataset.h"

namespace avqa::features {
namespace {

namespace fs = std::filesystem;
using avqa::testing::TempDir;

// One quick pass at 32 px (2x2 maps), quietly: what each test then changes is what it is about.
PretrainOptions tiny_pretraining(const fs::path& data, const fs::path& out) {
  PretrainOptions o;
  o.data = data;
  o.out = out;
  o.epochs = 1;
  o.batch = 4;
  o.frame_size = 32;
  o.progress = false;
  return o;
}

TEST(PretrainBackbones, LearnsFromTheTruthAndWritesWeightsExtractRecords) {
  TempDir dir("pretrain");
  avqa::testing::generate_tiny_dataset(dir.path(), 8, 2, 12, {0.75, 0.25, 0.0});

  PretrainOptions o = tiny_pretraining(dir / "data", dir / "weights");
  o.epochs = 3;
  o.batch = 6;
  o.learning_rate = 3e-4;
  const PretrainReport report = pretrain_backbones(o);
  ASSERT_EQ(report.epochs.size(), 3u);
  EXPECT_EQ(report.train_frames, 12u);  // 6 training videos x 2 s
  // Training fits: the loss falls from the first epoch to the last.
  EXPECT_LT(report.epochs.back().visual_loss, report.epochs.front().visual_loss);
  EXPECT_LT(report.epochs.back().audio_loss, report.epochs.front().audio_loss);
  // The default objective also trains the cell head, and that fits too.
  EXPECT_GT(report.epochs.front().cell_loss, 0.0);
  EXPECT_LT(report.epochs.back().cell_loss, report.epochs.front().cell_loss);

  // The weights load into the extractors' modules and are not the random initialisation.
  torch::manual_seed(0);
  ResNet18 resnet;
  const auto before = resnet->named_parameters()["conv1.weight"].clone();
  const WeightsReport loaded = load_weights(*resnet, report.visual_weights);
  EXPECT_TRUE(loaded.unused.empty());
  EXPECT_FALSE(torch::equal(before, resnet->named_parameters()["conv1.weight"]));
  Vggish vggish;
  EXPECT_NO_THROW(load_weights(*vggish, report.audio_weights));

  const auto description = nlohmann::json::parse(std::ifstream(dir / "weights/pretraining.json"));
  EXPECT_NE(description["what"].get<std::string>().find("NOT ImageNet"), std::string::npos);
  EXPECT_EQ(description["objective"], "cells");
  EXPECT_TRUE(description["epochs"][0].contains("cell_val_f1"));

  ExtractOptions x;
  x.videos = list_videos_in(dir / "data/videos");
  x.out = dir / "features.h5";
  x.visual_weights = report.visual_weights;
  x.audio_weights = report.audio_weights;
  x.sampling.segments = 2;
  x.sampling.frame_size = 32;
  x.progress = false;
  extract_features(x);
  const FeatureCacheReader cache(x.out);
  EXPECT_EQ(cache.layout().modalities[0].weights.rfind("resnet18.pt sha256:", 0), 0u)
      << cache.layout().modalities[0].weights;
  EXPECT_EQ(cache.layout().modalities[1].weights.rfind("vggish.pt sha256:", 0), 0u);
}

TEST(PretrainBackbones, TheFramesObjectiveTrainsNoCellHead) {
  TempDir dir("pretrain-frames");
  avqa::testing::generate_tiny_dataset(dir.path(), 4, 2, 13, {0.5, 0.5, 0.0});
  PretrainOptions o = tiny_pretraining(dir / "data", dir / "weights");
  o.objective = PretrainObjective::Frames;
  const PretrainReport report = pretrain_backbones(o);
  EXPECT_EQ(report.epochs.at(0).cell_loss, 0.0);
  const auto description = nlohmann::json::parse(std::ifstream(dir / "weights/pretraining.json"));
  EXPECT_EQ(description["objective"], "frames");
  EXPECT_FALSE(description["epochs"][0].contains("cell_val_f1"));
}

TEST(PretrainBackbones, LearnsFromEveryVideoOfACorpusAndRefusesOneWithTheDatasetsSeed) {
  TempDir dir("pretrain-corpus");
  avqa::testing::generate_tiny_dataset(dir / "main", 4, 2, 13, {0.5, 0.5, 0.0});
  // Every split of a corpus is learnt from, the test split included: it is not the dataset's.
  avqa::testing::generate_tiny_dataset(dir / "corpus", 3, 2, 14, {0.4, 0.3, 0.3});
  PretrainOptions o = tiny_pretraining(dir / "main/data", dir / "weights");
  o.corpora = {dir / "corpus/data"};
  const PretrainReport report = pretrain_backbones(o);
  EXPECT_EQ(report.train_frames, 10u);  // 2 training videos and 3 corpus videos, 2 s each
  EXPECT_EQ(report.corpus_videos, 3u);
  const auto description = nlohmann::json::parse(std::ifstream(dir / "weights/pretraining.json"));
  ASSERT_EQ(description["corpora"].size(), 1u);
  EXPECT_EQ(description["corpora"][0]["videos"], 3);
  EXPECT_EQ(description["corpora"][0]["generator_seed"], 14);

  // Generated with the dataset's own seed, the corpus would hold its test videos.
  avqa::testing::generate_tiny_dataset(dir / "same-seed", 3, 2, 13, {0.4, 0.3, 0.3});
  o.corpora = {dir / "same-seed/data"};
  o.out = dir / "refused";
  try {
    pretrain_backbones(o);
    FAIL() << "a corpus with the dataset's seed was accepted";
  } catch (const core::InputError& e) {
    EXPECT_NE(std::string(e.what()).find("seed"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("same-seed"), std::string::npos) << e.what();
  }
  EXPECT_FALSE(fs::exists(dir / "refused"));
  o.corpora = {dir / "main"};  // not a dataset: no truth/
  EXPECT_THROW(pretrain_backbones(o), core::InputError);
}

TEST(PretrainBackbones, AudioEpochsTrainVggishAloneAndLeaveResNetAsItWas) {
  TempDir dir("pretrain-audio-epochs");
  avqa::testing::generate_tiny_dataset(dir.path(), 4, 2, 13, {0.5, 0.5, 0.0});
  PretrainOptions o = tiny_pretraining(dir / "data", dir / "weights");
  o.audio_epochs = 3;
  o.audio_learning_rate = 1e-3;
  const PretrainReport longer = pretrain_backbones(o);
  ASSERT_EQ(longer.epochs.size(), 3u);
  EXPECT_TRUE(longer.epochs[0].visual_trained);
  for (std::size_t e = 1; e < 3; ++e) {
    EXPECT_FALSE(longer.epochs[e].visual_trained);
    EXPECT_TRUE(longer.epochs[e].audio_trained);
    EXPECT_EQ(longer.epochs[e].visual_loss, 0.0);
    EXPECT_GT(longer.epochs[e].audio_loss, 0.0);
    EXPECT_EQ(longer.epochs[e].visual_val_f1, longer.epochs[0].visual_val_f1);
  }
  const auto description = nlohmann::json::parse(std::ifstream(dir / "weights/pretraining.json"));
  EXPECT_EQ(description["visual_epochs"], 1);
  EXPECT_EQ(description["audio_epochs"], 3);
  EXPECT_DOUBLE_EQ(description["audio_learning_rate"].get<double>(), 1e-3);
  EXPECT_TRUE(description["epochs"][2]["visual_loss"].is_null());
  EXPECT_TRUE(description["epochs"][2]["cell_loss"].is_null());

  // The ResNet-18 trained one epoch, with or without the audio's extra ones: the same weights.
  PretrainOptions same = tiny_pretraining(dir / "data", dir / "weights-1");
  same.audio_learning_rate = 1e-3;
  pretrain_backbones(same);
  torch::manual_seed(0);
  ResNet18 a, b;
  load_weights(*a, dir / "weights/resnet18.pt");
  load_weights(*b, dir / "weights-1/resnet18.pt");
  EXPECT_TRUE(
      torch::equal(a->named_parameters()["conv1.weight"], b->named_parameters()["conv1.weight"]));
  Vggish va, vb;
  load_weights(*va, dir / "weights/vggish.pt");
  load_weights(*vb, dir / "weights-1/vggish.pt");
  EXPECT_FALSE(torch::equal(va->parameters().front(), vb->parameters().front()));

  // More visual epochs than audio ones: the audio trains only the first.
  o.out = dir / "weights-v";
  o.epochs = 2;
  o.audio_epochs = 1;
  const PretrainReport shorter = pretrain_backbones(o);
  ASSERT_EQ(shorter.epochs.size(), 2u);
  EXPECT_FALSE(shorter.epochs[1].audio_trained);
  EXPECT_EQ(shorter.epochs[1].audio_val_f1, shorter.epochs[0].audio_val_f1);

  o.audio_epochs = -1;
  EXPECT_THROW(pretrain_backbones(o), std::invalid_argument);
}

TEST(PretrainBackbones, AudioMixIsRecordedAndBoundedToAShare) {
  TempDir dir("pretrain-audio-mix");
  avqa::testing::generate_tiny_dataset(dir.path(), 4, 2, 13, {0.5, 0.5, 0.0});
  PretrainOptions o = tiny_pretraining(dir / "data", dir / "weights");
  o.audio_mix = 0.5;
  const PretrainReport mixed = pretrain_backbones(o);
  EXPECT_GT(mixed.epochs.at(0).audio_loss, 0.0);
  const auto description = nlohmann::json::parse(std::ifstream(dir / "weights/pretraining.json"));
  EXPECT_DOUBLE_EQ(description["audio_mix"].get<double>(), 0.5);
  // The mixtures change what VGGish learns.
  PretrainOptions plain = tiny_pretraining(dir / "data", dir / "weights-plain");
  pretrain_backbones(plain);
  torch::manual_seed(0);
  Vggish va, vb;
  load_weights(*va, dir / "weights/vggish.pt");
  load_weights(*vb, dir / "weights-plain/vggish.pt");
  EXPECT_FALSE(torch::equal(va->parameters().front(), vb->parameters().front()));
  o.audio_mix = 1.5;
  EXPECT_THROW(pretrain_backbones(o), std::invalid_argument);
}

TEST(PretrainObjective, ParsesItsNamesAndRefusesOthers) {
  EXPECT_EQ(parse_pretrain_objective("frames"), PretrainObjective::Frames);
  EXPECT_EQ(parse_pretrain_objective("cells"), PretrainObjective::Cells);
  EXPECT_STREQ(to_string(PretrainObjective::Cells), "cells");
  EXPECT_THROW(parse_pretrain_objective("pixels"), std::invalid_argument);
}

// The cells objective's targets on a hand-built scene: a 4x4 grid over a 64 x 32 frame (cells
// 16 x 8 px, centres at x = 8, 24, 40, 56 and y = 4, 12, 20, 28).
TEST(CellTargets, MarkTheCellsWhoseCentreLiesInABoxOfThatClass) {
  const int classes = 6;
  const std::vector<ClassBox> boxes = {
      {0, 0, 30, 10, 3},    // centres x 8, 24 and y 4: cells (0,0), (0,1)
      {20, 0, 42, 13, 5},   // x 24, 40 and y 4, 12: (0,1), (0,2), (1,1), (1,2)
      {57, 29, 64, 32, 1},  // holds no centre (x 56 and y 28 lie outside)
  };
  const std::vector<float> t = cell_targets(boxes, 4, 64, 32, classes);
  ASSERT_EQ(t.size(), 4u * 4u * classes);
  const auto at = [&](int i, int j, int c) {
    return t[static_cast<std::size_t>((i * 4 + j) * classes + c)];
  };
  std::vector<std::array<int, 3>> expected = {{0, 0, 3}, {0, 1, 3}, {0, 1, 5},
                                              {0, 2, 5}, {1, 1, 5}, {1, 2, 5}};
  float total = 0;
  for (float v : t)
    total += v;
  EXPECT_EQ(total, static_cast<float>(expected.size()));
  for (const auto& [i, j, c] : expected)
    EXPECT_EQ(at(i, j, c), 1.f) << "cell (" << i << ", " << j << ") class " << c;
  EXPECT_THROW(cell_targets({{0, 0, 64, 32, classes}}, 4, 64, 32, classes), std::out_of_range);
}

// Pretraining mirrors half its frames and their cell targets with them: the targets of the
// mirrored boxes must be the mirrored targets, or the augmentation would teach the wrong cells.
TEST(CellTargets, MirroringTheBoxesMirrorsTheTargets) {
  const int classes = 3, grid = 7;
  const double width = 112, height = 112;
  const std::vector<ClassBox> boxes = {
      {5, 10, 38, 60, 0}, {70, 30, 111, 90, 2}, {48, 48, 64, 64, 1}};
  std::vector<ClassBox> mirrored;
  for (ClassBox b : boxes) {
    const double x0 = width - b.x1, x1 = width - b.x0;
    b.x0 = x0;
    b.x1 = x1;
    mirrored.push_back(b);
  }
  const auto t =
      torch::tensor(cell_targets(boxes, grid, width, height, classes)).view({grid, grid, classes});
  const auto m = torch::tensor(cell_targets(mirrored, grid, width, height, classes))
                     .view({grid, grid, classes});
  EXPECT_GT(t.sum().item<float>(), 10.f);
  EXPECT_TRUE(torch::equal(m, t.flip({1})));
}

}  // namespace
}  // namespace avqa::features
