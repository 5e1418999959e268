// avqa::net::train on a tiny generated dataset: files of a run, exact resumption, evaluation.
#include "avqa/trainer.h"

#include <fstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "avqa/torch_checkpoint.h"
#include "datasets/features/extractor.h"
#include "datasets/synthetic/generator.h"
#include "tests/test_paths.h"
#include "tests/tiny_dataset.h"

namespace avqa::net {
namespace {

namespace fs = std::filesystem;
using avqa::testing::TempDir;

void make_data(const fs::path& dir) {
  avqa::testing::generate_tiny_dataset(dir, 12, 2, 21, {0.5, 0.5, 0.0}, 4);
  avqa::testing::extract_tiny_features(dir, 2);
}

TrainOptions options(const fs::path& dir, const std::string& run, int epochs) {
  TrainOptions o;
  o.train = dir / "data/annotations/avqa-train.json";
  o.val = dir / "data/annotations/avqa-val.json";
  o.cache = dir / "data/features.h5";
  o.out = dir / run;
  o.epochs = epochs;
  o.batch = 8;
  o.segments = 2;
  o.lr_step = 1;  // the learning rate changes between epochs: resumption must restore it
  o.progress = false;
  return o;
}

TEST(Trainer, WritesTheRunAndResumesExactly) {
  TempDir dir("trainer");
  make_data(dir.path());
  const TrainReport straight = train(options(dir.path(), "straight", 2));
  ASSERT_EQ(straight.epochs.size(), 2u);
  EXPECT_NEAR(straight.epochs[1].learning_rate, 1e-5, 1e-12);
  for (const char* file : {"vocab.json", "config.json", "best.pt", "epoch-2.pt", "epoch-2.optim",
                           "metrics.jsonl", "state.json"}) {
    EXPECT_TRUE(fs::exists(dir / "straight" / file)) << file;
  }
  EXPECT_FALSE(fs::exists(dir / "straight/epoch-1.pt"));  // only the last epoch is kept
  std::ifstream metrics(dir / "straight/metrics.jsonl");
  std::string line;
  int lines = 0;
  while (std::getline(metrics, line)) {
    const auto m = nlohmann::json::parse(line);
    EXPECT_EQ(m["epoch"], ++lines);
    EXPECT_GE(m["val_accuracy"].get<double>(), 0.0);
  }
  EXPECT_EQ(lines, 2);

  // One epoch, stop, resume to two: the same weights as the uninterrupted run.
  train(options(dir.path(), "resumed", 1));
  EXPECT_THROW(train(options(dir.path(), "resumed", 2)),
               core::InputError);  // a run is there: needs --resume
  TrainOptions again = options(dir.path(), "resumed", 2);
  again.resume = true;
  const TrainReport resumed = train(again);
  ASSERT_EQ(resumed.epochs.size(), 2u);
  const auto a = read_torch_state_dict(dir / "straight/epoch-2.pt");
  const auto b = read_torch_state_dict(dir / "resumed/epoch-2.pt");
  ASSERT_EQ(a.size(), b.size());
  for (std::size_t i = 0; i < a.size(); ++i) {
    EXPECT_TRUE(torch::equal(a[i].second, b[i].second)) << a[i].first;
  }
  EXPECT_DOUBLE_EQ(resumed.epochs[1].val_accuracy, straight.epochs[1].val_accuracy);
}

TEST(Trainer, QuestionOnlyBaselineSeesNoMedia) {
  TempDir dir("trainer_q");
  make_data(dir.path());
  const auto set = data::load_annotations(dir / "data/annotations/avqa-train.json");
  const auto words = data::WordVocabulary::build({set});
  const data::AnswerVocabulary answers(data::music_avqa_answers());
  auto cache = std::make_shared<const features::FeatureCacheReader>(dir / "data/features.h5");
  const QaDataset dataset(set, words, answers, cache, 2);
  const QaBatch full = dataset.load({0, 1, 2}, true, 5);
  const QaBatch blind = dataset.load({0, 1, 2}, true, 5, /*zero_media=*/true);
  EXPECT_GT(full.visual.abs().sum().item<float>(), 0.f);
  EXPECT_EQ(blind.audio.abs().sum().item<float>(), 0.f);
  EXPECT_EQ(blind.visual.abs().sum().item<float>(), 0.f);
  EXPECT_EQ(blind.visual_negative.abs().sum().item<float>(), 0.f);
  EXPECT_TRUE(torch::equal(blind.question, full.question));
  EXPECT_TRUE(torch::equal(blind.label, full.label));

  TrainOptions o = options(dir.path(), "qonly", 1);
  o.question_only = true;
  EXPECT_EQ(train(o).epochs.size(), 1u);
  const auto config = nlohmann::json::parse(std::ifstream(dir / "qonly/config.json"));
  EXPECT_TRUE(config["question_only"].get<bool>());
}

}  // namespace
}  // namespace avqa::net
