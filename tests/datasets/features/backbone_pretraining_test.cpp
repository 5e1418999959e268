#include "datasets/features/backbone_pretraining.h"

#include <fstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "datasets/features/backbones.h"
#include "datasets/features/extractor.h"
#include "datasets/synthetic/generator.h"
#include "tests/test_paths.h"
#include "tests/tiny_dataset.h"

namespace avqa::features {
namespace {

namespace fs = std::filesystem;
using avqa::testing::TempDir;

TEST(PretrainBackbones, LearnsFromTheTruthAndWritesWeightsExtractRecords) {
  TempDir dir("pretrain");
  avqa::testing::generate_tiny_dataset(dir.path(), 8, 2, 12, {0.75, 0.25, 0.0});

  PretrainOptions o;
  o.data = dir / "data";
  o.out = dir / "weights";
  o.epochs = 3;
  o.batch = 6;
  o.learning_rate = 3e-4;
  o.frame_size = 32;
  o.progress = false;
  const PretrainReport report = pretrain_backbones(o);
  ASSERT_EQ(report.epochs.size(), 3u);
  EXPECT_EQ(report.train_frames, 12u);  // 6 training videos x 2 s
  // Training fits: the loss falls from the first epoch to the last.
  EXPECT_LT(report.epochs.back().visual_loss, report.epochs.front().visual_loss);
  EXPECT_LT(report.epochs.back().audio_loss, report.epochs.front().audio_loss);

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

}  // namespace
}  // namespace avqa::features
