#include "datasets/vocabulary.h"

#include <filesystem>
#include <fstream>
#include <unistd.h>

#include <gtest/gtest.h>

#include "tests/test_paths.h"

namespace avqa::data {
namespace {

using avqa::testing::fixture;
using Strings = std::vector<std::string>;
using Ids = std::vector<std::int64_t>;

AnnotationSet valid_set() {
  return load_annotations(fixture("annotations/valid.json"));
}

TEST(WordVocabulary, PadIsZeroThenFirstAppearance) {
  const WordVocabulary vocab = WordVocabulary::build({valid_set()});
  ASSERT_GE(vocab.size(), 6u);
  EXPECT_EQ(vocab.word(0), "<pad>");
  EXPECT_EQ(vocab.word(1), "How");
  EXPECT_EQ(vocab.word(2), "many");
  EXPECT_EQ(vocab.id("musical"), 3);
  EXPECT_FALSE(vocab.has_unknown());
  // "Is" and "is" are different words.
  EXPECT_NE(vocab.id("Is"), vocab.id("is"));
}

TEST(WordVocabulary, EncodesRightPaddedToFourteen) {
  const WordVocabulary vocab = WordVocabulary::build({valid_set()});
  const Ids ids = vocab.encode({"How", "many", "sounding", "violin", "in", "the", "video"});
  ASSERT_EQ(ids.size(), kQuestionMaxLen);
  EXPECT_EQ(ids[0], vocab.id("How"));
  EXPECT_EQ(ids[3], vocab.id("violin"));
  EXPECT_EQ(ids[6], vocab.id("video"));
  for (std::size_t i = 7; i < kQuestionMaxLen; ++i)
    EXPECT_EQ(ids[i], 0) << i;
}

TEST(WordVocabulary, UnknownWordsAreListedOrMappedToUnk) {
  const AnnotationSet set = valid_set();
  const WordVocabulary strict = WordVocabulary::build({set});
  try {
    strict.encode({"Where", "is", "the", "banjoist", "standing", "banjoist"});
    FAIL() << "expected unknown words";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("'banjoist', 'standing'"), std::string::npos) << e.what();
  }
  const WordVocabulary lenient = WordVocabulary::build({set}, {/*with_unknown=*/true});
  EXPECT_TRUE(lenient.has_unknown());
  EXPECT_EQ(lenient.size(), strict.size() + 1);
  EXPECT_EQ(lenient.word(static_cast<std::int64_t>(strict.size())),
            "<unk>");  // appended: old ids unchanged
  const Ids ids = lenient.encode({"Where", "banjoist"});
  EXPECT_EQ(ids[0], strict.id("Where"));
  EXPECT_EQ(ids[1], lenient.id("<unk>"));
}

TEST(WordVocabulary, TooLongQuestionIsRefused) {
  WordVocabulary vocab({false, 3});
  vocab.add("a");
  EXPECT_EQ(vocab.encode({"a", "a", "a"}).size(), 3u);
  EXPECT_THROW(vocab.encode({"a", "a", "a", "a"}), std::invalid_argument);
}

TEST(WordVocabulary, FromWordsValidates) {
  EXPECT_THROW(WordVocabulary::from_words({"a", "<pad>"}, 14), std::invalid_argument);
  EXPECT_THROW(WordVocabulary::from_words({"<pad>", "a", "a"}, 14), std::invalid_argument);
  const auto vocab = WordVocabulary::from_words({"<pad>", "a", "<unk>"}, 14);
  EXPECT_TRUE(vocab.has_unknown());
  EXPECT_EQ(vocab.id("zzz"), 2);
}

TEST(AnswerVocabulary, FirstAppearanceOrFixedList) {
  const AnnotationSet set = valid_set();
  const AnswerVocabulary built = AnswerVocabulary::build({set});
  EXPECT_EQ(built.answers(), (Strings{"one", "three", "yes", "indoor", "left"}));
  const AnswerVocabulary fixed = AnswerVocabulary::load(fixture("annotations/answers.json"));
  EXPECT_EQ(fixed.size(), 8u);
  EXPECT_EQ(fixed.index("piano"), 7);
  EXPECT_EQ(encode_answers(set, fixed), (Ids{0, 1, 2, 3, 4}));
}

TEST(AnswerVocabulary, UnknownAnswerNamesRecordAndField) {
  const AnswerVocabulary fixed = AnswerVocabulary::load(fixture("annotations/answers.json"));
  const AnnotationSet set = load_annotations(fixture("annotations/unknown_answer.json"));
  try {
    encode_answers(set, fixed);
    FAIL() << "expected an unknown answer";
  } catch (const core::InputError& e) {
    EXPECT_EQ(e.where().record, 0u);
    EXPECT_EQ(e.where().field, "anser");
    EXPECT_NE(std::string(e.what()).find("'underwater' is not among the 8 answers"),
              std::string::npos);
  }
}

TEST(AnswerVocabulary, UnknownWordNamesRecordAndField) {
  const WordVocabulary vocab = WordVocabulary::build({valid_set()});
  const AnnotationSet set = load_annotations(fixture("annotations/unknown_word.json"));
  try {
    encode_questions(set, vocab);
    FAIL() << "expected an unknown word";
  } catch (const core::InputError& e) {
    EXPECT_EQ(e.where().field, "question_content");
    EXPECT_NE(std::string(e.what()).find("'banjoist', 'standing'"), std::string::npos) << e.what();
  }
}

TEST(AnswerVocabulary, LoadRejectsBadTables) {
  const auto dir =
      std::filesystem::temp_directory_path() / ("avqa_answers_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  auto write = [&](const std::string& name, const std::string& text) {
    std::ofstream(dir / name) << text;
    return dir / name;
  };
  EXPECT_THROW(AnswerVocabulary::load(write("gap.json", R"({"ans2ix": {"a": 0, "b": 2}})")),
               core::InputError);
  EXPECT_THROW(AnswerVocabulary::load(write("twice.json", R"({"ans2ix": {"a": 0, "b": 0}})")),
               core::InputError);
  EXPECT_THROW(AnswerVocabulary::load(write("dup.json", R"(["a", "a"])")), core::InputError);
  EXPECT_THROW(AnswerVocabulary::load(write("obj.json", R"({"answers": []})")), core::InputError);
  EXPECT_EQ(AnswerVocabulary::load(write("ok.json", R"({"ans2ix": {"b": 1, "a": 0}})")).answers(),
            (Strings{"a", "b"}));
  std::filesystem::remove_all(dir);
}

TEST(Vocabularies, SaveLoadRoundTrip) {
  const AnnotationSet set = valid_set();
  Vocabularies vocab{WordVocabulary::build({set}, {true, 14}),
                     AnswerVocabulary::build({set}),
                     {set.source},
                     std::nullopt};
  const auto path = std::filesystem::temp_directory_path() /
                    ("avqa_vocab_" + std::to_string(::getpid()) + ".json");
  save_vocabularies(vocab, path);
  const Vocabularies loaded = load_vocabularies(path);
  EXPECT_EQ(loaded.words.words(), vocab.words.words());
  EXPECT_TRUE(loaded.words.has_unknown());
  EXPECT_EQ(loaded.words.max_length(), 14u);
  EXPECT_EQ(loaded.answers.answers(), vocab.answers.answers());
  EXPECT_EQ(loaded.built_from, vocab.built_from);

  std::ofstream(path) << R"({"format": "avqa-vocabulary", "version": 1, "max_question_length": 14,
                            "words": ["x"], "answers": []})";
  try {
    load_vocabularies(path);
    FAIL() << "expected a bad word list";
  } catch (const core::InputError& e) {
    EXPECT_EQ(e.where().field, "words");
  }
  std::filesystem::remove(path);
}

}  // namespace
}  // namespace avqa::data
