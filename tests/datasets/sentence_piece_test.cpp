// SentencePiece through the torch-free avqa-spm helper: this test binary links no SentencePiece
// and no LibTorch, exactly like the processes that use the client.
#include "datasets/sentence_piece.h"

#include <fstream>

#include <gtest/gtest.h>

#include "core/input_error.h"
#include "datasets/annotations.h"
#include "datasets/vocabulary.h"
#include "tests/test_paths.h"

namespace avqa::data {
namespace {

using avqa::testing::fixture;
using avqa::testing::TempDir;

std::vector<std::string> corpus() {
  std::vector<std::string> sentences;
  for (const char* s :
       {"How many instruments are sounding in the video", "Where is the first sounding instrument",
        "Is the violin louder than the piano", "Which clarinet makes the sound first",
        "Is there a guzheng sound", "What is the left instrument of the second sounding instrument",
        "Are there accordion and violin sounds in the video"}) {
    for (int repeat = 0; repeat < 3; ++repeat)
      sentences.push_back(s);
  }
  return sentences;
}

// Pieces joined back: SentencePiece marks word starts with U+2581.
std::string detokenize(const std::vector<std::string>& pieces) {
  std::string text;
  for (const auto& p : pieces)
    text += p;
  const std::string marker = "\xE2\x96\x81";
  for (std::size_t at; (at = text.find(marker)) != std::string::npos;)
    text.replace(at, marker.size(), " ");
  return text.substr(text.empty() || text[0] != ' ' ? 0 : 1);
}

class SentencePieceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    avqa::testing::use_built_sentence_piece_helper();
    SentencePieceTrainOptions o;
    o.sentences = corpus();
    o.out = dir_ / "models/q.model";
    o.vocab_size = 60;
    train_sentence_piece(o);
  }
  TempDir dir_{"sentence_piece"};
};

TEST_F(SentencePieceTest, TrainsAModelThatEncodesAnyWordingLosslessly) {
  const SentencePieceModel model(dir_ / "models/q.model");
  EXPECT_TRUE(std::filesystem::exists(dir_ / "models/q.model.vocab"));
  EXPECT_GT(model.size(), 3);
  EXPECT_LE(model.size(), 60);
  // Seen and unseen wording alike: ids in range, never the padding id, text recoverable.
  const std::vector<std::string> questions = {"Is the violin louder than the piano",
                                              "Is the zebra louder than the violin"};
  const auto ids = model.encode(questions);
  const auto pieces = model.pieces(questions);
  ASSERT_EQ(ids.size(), 2u);
  for (std::size_t q = 0; q < 2; ++q) {
    ASSERT_FALSE(ids[q].empty());
    EXPECT_EQ(ids[q].size(), pieces[q].size());
    for (const auto id : ids[q]) {
      EXPECT_GT(id, 0);
      EXPECT_LT(id, model.size());
    }
    EXPECT_EQ(detokenize(pieces[q]), questions[q]);
  }
  EXPECT_NE(ids[0], ids[1]);
  EXPECT_EQ(model.encode({questions[0]}).front(), ids[0]);  // deterministic
}

TEST_F(SentencePieceTest, VocabulariesWithPiecesEncodeRecordsAndRoundTrip) {
  const AnnotationSet set = load_annotations(fixture("annotations/valid.json"));
  Vocabularies vocab;
  vocab.words = WordVocabulary::build({set});
  vocab.answers = AnswerVocabulary::build({set});
  vocab.pieces = QuestionPieces{dir_ / "models/q.model",
                                SentencePieceModel(dir_ / "models/q.model").size(), 40};
  EXPECT_EQ(question_vocabulary_size(vocab), vocab.pieces->size);
  const auto rows = encode_questions(set, vocab);
  ASSERT_EQ(rows.size(), set.records.size());
  for (const auto& row : rows) {
    ASSERT_EQ(row.size(), 40u);
    EXPECT_GT(row.front(), 0);  // right-padded: the question comes first
    EXPECT_EQ(row.back(), 0);
  }
  EXPECT_EQ(encode_question(set.records[0].words, vocab), rows[0]);
  // A word the word vocabulary lacks is fine with pieces.
  EXPECT_THROW(vocab.words.encode({"where", "is", "the", "banjoist"}), std::invalid_argument);
  EXPECT_NO_THROW(encode_question({"where", "is", "the", "banjoist"}, vocab));

  // Saved beside its model, the path is stored relative and resolves after a move.
  save_vocabularies(vocab, dir_ / "models/vocab.json");
  std::filesystem::rename(dir_ / "models", dir_ / "moved");
  const Vocabularies loaded = load_vocabularies(dir_ / "moved/vocab.json");
  ASSERT_TRUE(loaded.pieces.has_value());
  EXPECT_EQ(loaded.pieces->model, dir_ / "moved/q.model");
  EXPECT_EQ(loaded.pieces->max_length, 40u);
  EXPECT_EQ(encode_questions(set, loaded), rows);

  // Too long for max_length: the record and the field are named.
  vocab.pieces = QuestionPieces{dir_ / "moved/q.model", loaded.pieces->size, 2};
  try {
    encode_questions(set, vocab);
    FAIL() << "encoded a question into 2 pieces";
  } catch (const core::InputError& e) {
    EXPECT_EQ(e.where().record, std::optional<std::size_t>(0));
    EXPECT_EQ(e.where().field, "question_content");
  }
}

TEST_F(SentencePieceTest, BadModelsAndAMissingHelperAreClearErrors) {
  { std::ofstream(dir_ / "garbage.model") << "not a model"; }
  try {
    SentencePieceModel bad(dir_ / "garbage.model");
    FAIL() << "loaded a text file as a model";
  } catch (const core::InputError& e) {
    EXPECT_EQ(e.where().file, (dir_ / "garbage.model").string());
  }
  EXPECT_THROW(SentencePieceModel(dir_ / "absent.model"), core::InputError);
  ::setenv("AVQA_SPM", "/nonexistent/avqa-spm", 1);
  EXPECT_THROW(train_sentence_piece({corpus(), dir_ / "x.model", 40, "unigram"}),
               std::runtime_error);
  EXPECT_FALSE(std::filesystem::exists(dir_ / "x.model"));
}

}  // namespace
}  // namespace avqa::data
