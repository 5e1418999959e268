// avqa ask: a trained run answers a question about a video and shows where and when it looked.
#include "avqa/question_answering.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "avqa/trainer.h"
#include "core/input_error.h"
#include "datasets/annotations.h"
#include "datasets/features/extractor.h"
#include "datasets/synthetic/generator.h"
#include "datasets/vocabulary.h"
#include "tests/test_paths.h"
#include "tests/tiny_dataset.h"

namespace avqa::net {
namespace {

namespace fs = std::filesystem;
using avqa::testing::TempDir;

TEST(Ask, AnswersWithAttentionAndOverlays) {
  TempDir dir("ask");
  avqa::testing::generate_tiny_dataset(dir.path(), 8, 3, 5);
  const features::ExtractOptions x = avqa::testing::extract_tiny_features(dir.path(), 3);
  TrainOptions t;
  t.train = dir / "data/annotations/avqa-train.json";
  t.val = dir / "data/annotations/avqa-val.json";
  t.cache = x.out;
  t.out = dir / "run";
  t.epochs = 1;
  t.batch = 8;
  t.segments = 3;
  t.progress = false;
  train(t);

  AskOptions o;
  o.run = dir / "run";
  o.video = dir / "data/videos/syn00002.mp4";
  // A question the run has seen the words of (the tiny training set knows few words).
  const auto train_set = data::load_annotations(t.train);
  o.question = train_set.records[0].question_content;
  o.values = train_set.records[0].templ_values;
  const AskResult r = ask(o);
  const auto& answers = data::music_avqa_answers();
  EXPECT_NE(std::find(answers.begin(), answers.end(), r.answer), answers.end());
  ASSERT_EQ(r.top5.size(), 5u);
  float total = 0;
  for (std::size_t i = 0; i < 5; ++i) {
    total += r.top5[i].second;
    if (i > 0) {
      EXPECT_LE(r.top5[i].second, r.top5[i - 1].second);
    }
  }
  EXPECT_LE(total, 1.0001f);
  EXPECT_EQ(r.words, train_set.records[0].words);
  EXPECT_EQ(r.spatial_attention.sizes(), (std::vector<std::int64_t>{3, 16}));  // 4x4 maps at 64 px
  EXPECT_NEAR(r.temporal_visual.sum().item<float>(), 1.0f, 1e-4);
  const auto files = write_overlays(r, dir / "overlay");
  EXPECT_EQ(files.size(), 4u);
  for (const auto& f : files)
    EXPECT_GT(fs::file_size(f), 0u) << f;

  o.question = "Where is the banjoist?";
  o.values.clear();
  try {
    ask(o);
    FAIL() << "answered a question with an unknown word";
  } catch (const core::InputError& e) {
    EXPECT_NE(std::string(e.what()).find("'banjoist'"), std::string::npos) << e.what();
  }
  // The run learnt from random-init features: other weights would give other features.
  o.question = train_set.records[0].question_content;
  o.values = train_set.records[0].templ_values;
  o.audio_weights = dir / "data/videos/syn00000.mp4";  // not even weights
  EXPECT_THROW(ask(o), core::InputError);
}

}  // namespace
}  // namespace avqa::net
