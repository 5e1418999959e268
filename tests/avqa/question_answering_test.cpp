// avqa ask: a trained run answers a question about a video and shows where and when it looked.
#include "avqa/question_answering.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "avqa/trainer.h"
#include "core/input_error.h"
#include "datasets/annotations.h"
#include "datasets/features/extractor.h"
#include "datasets/question_text.h"
#include "datasets/sentence_piece.h"
#include "datasets/synthetic/generator.h"
#include "datasets/vocabulary.h"
#include "tests/test_paths.h"
#include "tests/tiny_dataset.h"

namespace avqa::net {
namespace {

namespace fs = std::filesystem;
using avqa::testing::TempDir;

// One quick epoch on the tiny dataset in <dir>/data, into <dir>/run.
TrainOptions one_epoch(const fs::path& dir, const fs::path& cache, int segments) {
  TrainOptions t;
  t.train = dir / "data/annotations/avqa-train.json";
  t.val = dir / "data/annotations/avqa-val.json";
  t.cache = cache;
  t.out = dir / "run";
  t.epochs = 1;
  t.batch = 8;
  t.segments = segments;
  t.progress = false;
  return t;
}

TEST(Ask, AnswersWithAttentionAndOverlays) {
  TempDir dir("ask");
  avqa::testing::generate_tiny_dataset(dir.path(), 8, 3, 5);
  const features::ExtractOptions x = avqa::testing::extract_tiny_features(dir.path(), 3);
  TrainOptions t = one_epoch(dir.path(), x.out, 3);
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

// With a SentencePiece tokenizer the run reads questions whose words it never saw.
TEST(Ask, TokenizedRunAnswersFreeFormWording) {
  avqa::testing::use_built_sentence_piece_helper();
  TempDir dir("ask_pieces");
  avqa::testing::generate_tiny_dataset(dir.path(), 6, 2, 8);
  const features::ExtractOptions x = avqa::testing::extract_tiny_features(dir.path(), 2);
  TrainOptions t = one_epoch(dir.path(), x.out, 2);
  data::SentencePieceTrainOptions s;
  for (const auto& r : data::load_annotations(t.train).records)
    s.sentences.push_back(data::question_sentence(r.words));
  s.out = dir / "tokenizer/q.model";
  s.vocab_size = 120;
  data::train_sentence_piece(s);
  t.tokenizer = s.out;
  t.tokenizer_max_length = 80;  // a tokenizer of a few dozen questions splits words finely
  train(t);

  // The run holds its own copy of the model: deleting the original changes nothing.
  fs::remove_all(dir / "tokenizer");
  const data::Vocabularies vocab = data::load_vocabularies(dir / "run/vocab.json");
  ASSERT_TRUE(vocab.pieces.has_value());
  EXPECT_EQ(vocab.pieces->model, dir / "run/tokenizer.model");
  AskOptions o;
  o.run = dir / "run";
  o.video = dir / "data/videos/syn00001.mp4";
  o.question = "Where is the banjoist?";  // a word no training question has
  const AskResult r = ask(o);
  const auto& answers = data::music_avqa_answers();
  EXPECT_NE(std::find(answers.begin(), answers.end(), r.answer), answers.end());
  EXPECT_EQ(r.words, (std::vector<std::string>{"Where", "is", "the", "banjoist"}));
  std::string joined;
  for (const auto& piece : r.pieces)
    joined += piece;
  EXPECT_EQ(joined,
            "\xE2\x96\x81Where\xE2\x96\x81is\xE2\x96\x81the\xE2\x96\x81"
            "banjoist");
}

}  // namespace
}  // namespace avqa::net
