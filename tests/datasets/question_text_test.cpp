#include "datasets/question_text.h"

#include <gtest/gtest.h>

namespace avqa::data {
namespace {

using Strings = std::vector<std::string>;

TEST(DropLastCodePoint, DropsWholeMultiByteCharacters) {
  EXPECT_EQ(drop_last_code_point("video?"), "video");
  EXPECT_EQ(drop_last_code_point("video\xEF\xBC\x9F"),
            "video");  // full-width question mark, 3 bytes
  EXPECT_EQ(drop_last_code_point("caf\xC3\xA9"), "caf");
  EXPECT_EQ(drop_last_code_point("\xF0\x9F\x8E\xBB"), "");
  EXPECT_EQ(drop_last_code_point("?"), "");
  EXPECT_EQ(drop_last_code_point(""), "");
}

TEST(QuestionWords, FullWidthQuestionMarkLeavesNoStrayBytes) {
  const Strings words =
      question_words("How many sounding <Object> in the video\xEF\xBC\x9F", {"violin"});
  EXPECT_EQ(words, (Strings{"How", "many", "sounding", "violin", "in", "the", "video"}));
}

TEST(QuestionWords, FillsPlaceholdersInOrder) {
  EXPECT_EQ(question_words("Is the <Object> on the <LR> louder than the <Object> on the <LR>?",
                           {"violin", "left", "cello", "right"}),
            (Strings{"Is", "the", "violin", "on", "the", "left", "louder", "than", "the", "cello",
                     "on", "the", "right"}));
  // The placeholder carries the question mark: the mark is dropped, then the word is filled.
  EXPECT_EQ(
      question_words("Which instrument makes sounds <BA> the <Object>?", {"after", "piano"}).back(),
      "piano");
  EXPECT_EQ(question_words("What kind of instrument is the <LRer> instrument?", {"leftest"})[6],
            "leftest");
}

TEST(QuestionWords, TrailingWhitespaceIsRemovedBeforeTheMark) {
  EXPECT_EQ(question_words("Where is the performance?  \t", {}),
            (Strings{"Where", "is", "the", "performance"}));
}

TEST(QuestionWords, SplitsOnSingleSpacesLikePython) {
  EXPECT_EQ(question_words("Is  it?", {}), (Strings{"Is", "", "it"}));
}

TEST(QuestionWords, DropsTheLastCharacterEvenWithoutQuestionMark) {
  EXPECT_EQ(question_words("Is there a voiceover", {}).back(), "voiceove");
}

TEST(QuestionWords, CaseIsKept) {
  EXPECT_EQ(question_words("Is it?", {})[0], "Is");
}

TEST(QuestionWords, PlaceholderValueCountMustMatch) {
  EXPECT_THROW(question_words("Is the <Object> louder than the <Object>?", {"violin"}),
               std::invalid_argument);
  EXPECT_THROW(question_words("Where is the performance?", {"violin"}), std::invalid_argument);
  EXPECT_THROW(question_words("   ", {}), std::invalid_argument);
  try {
    question_words("Is the <Object> louder than the <Object>?", {"violin"});
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("2 placeholder(s) but templ_values has 1"),
              std::string::npos);
  }
}

TEST(FilledQuestion, KeepsPunctuation) {
  EXPECT_EQ(filled_question("Where is the <FL> sounding instrument?", {"first"}),
            "Where is the first sounding instrument?");
  EXPECT_EQ(count_placeholders("Is the <Object> on the <LR> louder?"), 2u);
  EXPECT_THROW(filled_question("Where is the <FL> sounding instrument?", {}),
               std::invalid_argument);
}

TEST(QuestionText, SentenceJoinsTheWordsAsTheModelReadsThem) {
  const auto words =
      question_words("Is the <Object> louder than the <Object>?", {"violin", "piano"});
  EXPECT_EQ(question_sentence(words), "Is the violin louder than the piano");
  EXPECT_EQ(question_sentence({}), "");
}

TEST(QuestionText, NamesTheCharacterDroppedWhenItIsNoQuestionMark) {
  EXPECT_EQ(dropped_non_question_mark("Where is the piano?"), "");
  EXPECT_EQ(dropped_non_question_mark("How many sounding <Object> in the video\xEF\xBC\x9F  "), "");
  EXPECT_EQ(dropped_non_question_mark("Where is the piano"), "o");
  EXPECT_EQ(dropped_non_question_mark("Is it the cello.\n"), ".");
  EXPECT_EQ(dropped_non_question_mark("Which is louder, the violin or the erhu\xE4\xBA\x8C"),
            "\xE4\xBA\x8C");  // a whole code point, not its last byte
}

}  // namespace
}  // namespace avqa::data
