#include "gui/question_composer.h"

#include <algorithm>
#include <map>
#include <set>

#include <gtest/gtest.h>

#include "datasets/annotations.h"
#include "tests/test_paths.h"

namespace avqa::gui {
namespace {

TEST(QuestionComposer, HasTheThirtyThreeTemplatesWithTheirPlaceholders) {
  const QuestionComposer c;
  ASSERT_EQ(c.templates().size(), 33u);
  const auto louder = std::find_if(c.templates().begin(), c.templates().end(), [](const auto& t) {
    return t.text == "Is the <Object> on the <LR> louder than the <Object> on the <LR>?";
  });
  ASSERT_NE(louder, c.templates().end());
  const auto slots = c.placeholders(louder->text);
  ASSERT_EQ(slots.size(), 4u);
  EXPECT_EQ(slots[0].name, "<Object>");
  EXPECT_EQ(slots[1].name, "<LR>");
  EXPECT_EQ(slots[0].values.size(), 22u);  // the MUSIC-AVQA classes
  EXPECT_EQ(slots[1].values, (std::vector<std::string>{"left", "right", "middle"}));
  EXPECT_TRUE(c.placeholders("Where is the performance?").empty());
  EXPECT_TRUE(c.values_of("<Nope>").empty());
  // Angle brackets that are no placeholder (a word with digits, an unclosed one) stay text.
  EXPECT_TRUE(c.placeholders("Is 3 < 4 or <a1>?").empty());
}

TEST(QuestionComposer, FillsInOrderAndLeavesMissingValuesVisible) {
  const std::string t = "Is the <Object> on the <LR> louder than the <Object> on the <LR>?";
  EXPECT_EQ(QuestionComposer::fill(t, {"violin", "left", "piano", "right"}),
            "Is the violin on the left louder than the piano on the right?");
  EXPECT_EQ(QuestionComposer::fill(t, {"violin", "", "piano"}),
            "Is the violin on the <LR> louder than the piano on the <LR>?");
  EXPECT_EQ(QuestionComposer::fill("Where is the performance?", {"x"}),
            "Where is the performance?");
}

TEST(QuestionComposer, CompletionsOfferTemplatesAndFilledQuestionsWithTwoInstruments) {
  const QuestionComposer c;
  const auto all = c.completions();
  const std::set<std::string> set(all.begin(), all.end());
  EXPECT_TRUE(set.count("Is the <Object> louder than the <Object>?"));
  const auto filled = std::find_if(all.begin(), all.end(), [](const std::string& s) {
    return s.rfind("Is the ", 0) == 0 && s.find(" louder than the ") != std::string::npos &&
           s.find('<') == std::string::npos && s.find(" on the ") == std::string::npos;
  });
  ASSERT_NE(filled, all.end());
  const auto middle = filled->find(" louder than the ");
  EXPECT_NE(filled->substr(7, middle - 7),
            filled->substr(middle + 17, filled->size() - middle - 18))
      << *filled << ": two different instruments";
  EXPECT_GT(all.size(), 33u);
}

TEST(QuestionComposer, CompletesTheWordBeingTypedFromTheRunsVocabulary) {
  const std::vector<std::string> words = {"<pad>", "<unk>",  "Is",   "the",  "violin",
                                          "viola", "louder", "than", "video"};
  EXPECT_EQ(QuestionComposer::complete_last_word("Is the vi", words),
            (std::vector<std::string>{"Is the violin", "Is the viola", "Is the video"}));
  EXPECT_EQ(QuestionComposer::complete_last_word("Is the vi", words, 1),
            (std::vector<std::string>{"Is the violin"}));
  EXPECT_EQ(QuestionComposer::complete_last_word("is", words), (std::vector<std::string>{}))
      << "the typed word is already whole";
  EXPECT_EQ(QuestionComposer::complete_last_word("i", words),
            (std::vector<std::string>{"Is"}));  // case-insensitive
  EXPECT_TRUE(QuestionComposer::complete_last_word("Is the ", words).empty());
  EXPECT_TRUE(QuestionComposer::complete_last_word("Is the <", words).empty());
  EXPECT_TRUE(QuestionComposer::complete_last_word("Is the xyz", words).empty());
}

// Every template and placeholder value of the real val/test annotations is one the composer
// offers: a question written with it reads like a real one.
TEST(QuestionComposer, CoversTheRealAnnotations) {
  const auto dir = avqa::testing::music_avqa_dir();
  if (dir.empty()) GTEST_SKIP() << "../shared/data/music-avqa absent: real annotations not checked";
  const QuestionComposer c;
  std::set<std::string> templates;
  for (const auto& t : c.templates())
    templates.insert(t.text);
  std::map<std::string, std::size_t> unknown;
  for (const char* split : {"avqa-val.json", "avqa-test.json"}) {
    for (const auto& r : data::load_annotations(dir / "json_update" / split).records) {
      // Exactly as stored, trailing spaces included ("...sound? "): the templates are the real
      // file's text.
      if (!templates.count(r.question_content)) ++unknown["template: " + r.question_content];
      const auto slots = c.placeholders(r.question_content);
      for (std::size_t k = 0; k < slots.size() && k < r.templ_values.size(); ++k) {
        const auto& values = slots[k].values;
        if (std::find(values.begin(), values.end(), r.templ_values[k]) == values.end())
          ++unknown[slots[k].name + " = " + r.templ_values[k]];
      }
    }
  }
  EXPECT_TRUE(unknown.empty()) << unknown.size() << " unknown, first: " << unknown.begin()->first;
}

}  // namespace
}  // namespace avqa::gui
