// Answers on hand-built scenes: every template's rule, checked against what a person would say.
#include "datasets/synthetic/question_templates.h"

#include <algorithm>
#include <map>
#include <set>

#include <gtest/gtest.h>

#include "datasets/annotations.h"
#include "datasets/question_text.h"
#include "tests/test_paths.h"

namespace avqa::synthetic {
namespace {

using Values = std::vector<std::string>;

// `pattern`: one character per second, '1' = sounding.
InstrumentTruth instrument(const std::string& name,
                           Column column,
                           int center_x,
                           const std::string& pattern,
                           double loudness_db = -20,
                           double onset_rate = 2,
                           bool visible = true) {
  InstrumentTruth t;
  t.name = name;
  t.visible = visible;
  t.column = column;
  t.box = {center_x - 20, 80, center_x + 20, 120};
  for (const char c : pattern)
    t.sounding_per_second.push_back(c == '1');
  t.sounding_seconds = static_cast<double>(std::count(pattern.begin(), pattern.end(), '1'));
  t.loudness_db = t.sounding_seconds > 0 ? loudness_db : -120;
  t.onset_rate = t.sounding_seconds > 0 ? onset_rate : 0;
  return t;
}

SceneTruth scene(std::vector<InstrumentTruth> instruments,
                 const std::string& background = "indoor") {
  SceneTruth t;
  t.seconds = 10;
  t.width = 224;
  t.height = 224;
  t.background = background;
  t.instruments = std::move(instruments);
  return t;
}

const QuestionTemplate& find_template(const std::string& text) {
  for (const auto& t : question_templates()) {
    if (t.text == text) return t;
  }
  throw std::runtime_error("no template " + text);
}

// The answer to `text` with `values`, or "-" when that question is not asked of this scene.
std::string answer(const std::string& text,
                   const SceneTruth& truth,
                   const Values& values,
                   const std::vector<std::string>& others = {"tuba"}) {
  for (const auto& c : question_candidates(find_template(text), truth, others)) {
    if (c.values == values) return c.answer;
  }
  return "-";
}

// A quartet: violin left (loud, starts at 0), piano middle (quiet, starts at 3), cello right
// (silent), and an off-screen flute (starts at 6).
SceneTruth quartet() {
  return scene({instrument("violin", Column::Left, 30, "1111111111", -12, 4.0),
                instrument("piano", Column::Middle, 112, "0001111100", -24, 1.0),
                instrument("cello", Column::Right, 190, "0000000000"),
                instrument("flute", Column::Middle, 0, "0000001111", -18, 2.0, /*visible=*/false)});
}

TEST(QuestionTemplates, ThirtyThreeTemplatesInNineTypesAllAsked) {
  const auto& all = question_templates();
  ASSERT_EQ(all.size(), 33u);
  std::set<data::QuestionType> types;
  for (const auto& t : all) {
    types.insert(t.type);
    EXPECT_TRUE(t.unsupported_reason.empty()) << t.text;
  }
  EXPECT_EQ(types.size(), data::kNumQuestionTypes);
  // A narrator's line is a voiceover; music alone is not.
  SceneTruth narrated = quartet();
  narrated.voiceover = VoiceoverTruth{"Welcome to tonight's concert.", 2.3, 4.4, -30};
  EXPECT_EQ(answer("Is there a voiceover?", narrated, {}), "yes");
  EXPECT_EQ(answer("Is there a voiceover?", quartet(), {}), "no");
  // The full-width question mark of the real template survives, and the original rule drops it.
  const auto& counting = find_template("How many sounding <Object> in the video\xEF\xBC\x9F");
  EXPECT_EQ(data::question_words(counting.text, {"violin"}).back(), "video");
}

TEST(QuestionTemplates, WordingMatchesTheRealAnnotations) {
  AVQA_REQUIRE_MUSIC_AVQA(dir);
  std::map<std::string, data::QuestionType> real;
  for (const char* file :
       {"json/avqa-val.json", "json/avqa-test.json", "json/avqa-train_fake.json"}) {
    for (const auto& r :
         data::load_annotations(dir / file, {data::DuplicatePolicy::KeepAll}).records) {
      // Exactly as stored: two real templates end in a space, and the generated ones must too.
      real[r.question_content] = r.type;
    }
  }
  EXPECT_EQ(real.size(), question_templates().size());
  for (const auto& t : question_templates()) {
    ASSERT_EQ(real.count(std::string(t.text)), 1u) << t.text;
    EXPECT_EQ(real[std::string(t.text)], t.type) << t.text;
  }
}

TEST(QuestionTemplates, AudioCountingCountsWhatIsHeardIncludingOffscreen) {
  const SceneTruth t = quartet();
  EXPECT_EQ(answer("How many musical instruments were heard throughout the video?", t, {}),
            "three");
  EXPECT_EQ(answer("Is there a <Object> sound?", t, {"flute"}), "yes");
  EXPECT_EQ(answer("Is there a <Object> sound?", t, {"cello"}), "no");  // visible but silent
  EXPECT_EQ(answer("Is there a <Object> sound?", t, {"tuba"}), "no");   // absent
  EXPECT_EQ(answer("Are there <Object> and <Object> sound? ", t, {"violin", "piano"}), "yes");
  EXPECT_EQ(answer("Are there <Object> and <Object> sound? ", t, {"violin", "cello"}), "no");
}

TEST(QuestionTemplates, ComparisonsUseMeasuredValuesAndMargins) {
  const SceneTruth t = quartet();
  EXPECT_EQ(answer("Is the <Object> louder than the <Object>?", t, {"violin", "piano"}), "yes");
  EXPECT_EQ(answer("Is the <Object> louder than the <Object>?", t, {"piano", "violin"}), "no");
  EXPECT_EQ(answer("Is the <Object> more rhythmic than the <Object>?", t, {"violin", "piano"}),
            "yes");
  EXPECT_EQ(answer("Is the <Object> playing longer than the <Object>?", t, {"piano", "flute"}),
            "yes");  // 5 s vs 4 s
  EXPECT_EQ(answer("Is the <Object> louder than the <Object>?", t, {"cello", "piano"}),
            "-");  // cello is silent
  // Under the margin: 2 dB apart is not asked.
  SceneTruth close = scene({instrument("violin", Column::Left, 30, "1111100000", -20),
                            instrument("piano", Column::Right, 190, "0000011111", -22)});
  EXPECT_EQ(answer("Is the <Object> louder than the <Object>?", close, {"violin", "piano"}), "-");
  EXPECT_EQ(answer("Is the instrument on the <LR> louder than the instrument on the <LR>?", t,
                   {"left", "middle"}),
            "yes");
  EXPECT_EQ(answer("Is the <Object> on the <LR> more rhythmic than the <Object> on the <LR>?", t,
                   {"piano", "middle", "violin", "left"}),
            "no");
}

TEST(QuestionTemplates, VisualQuestionsSeeOnlyVisibleInstruments) {
  const SceneTruth t = quartet();
  EXPECT_EQ(answer("Is there a <Object> in the entire video?", t, {"cello"}), "yes");
  EXPECT_EQ(answer("Is there a <Object> in the entire video?", t, {"flute"}),
            "no");  // heard, not seen
  EXPECT_EQ(answer("How many types of musical instruments appeared in the entire video?", t, {}),
            "three");
  EXPECT_EQ(answer("How many <Object> are in the entire video?", t, {"tuba"}), "zero");
  EXPECT_EQ(answer("What kind of instrument is the <LRer> instrument? ", t, {"leftest"}), "violin");
  EXPECT_EQ(answer("What kind of instrument is the <LRer> instrument? ", t, {"rightest"}), "cello");
  EXPECT_EQ(answer("What is the instrument on the <LR> of <Object>?", t, {"right", "violin"}),
            "piano");
  EXPECT_EQ(answer("What is the instrument on the <LR> of <Object>?", t, {"left", "violin"}), "-");
  EXPECT_EQ(answer("What kind of musical instrument is it?", t, {}),
            "-");  // more than one instrument
  EXPECT_EQ(answer("Where is the performance?", scene({}, "outdoor"), {}), "outdoor");
  const SceneTruth solo = scene({instrument("banjo", Column::Middle, 112, "0000000000")});
  EXPECT_EQ(answer("What kind of musical instrument is it?", solo, {}), "banjo");
}

TEST(QuestionTemplates, AudioVisualExistenceAndCounting) {
  const SceneTruth t = quartet();
  EXPECT_EQ(answer("Is this sound from the instrument in the video?", t, {}),
            "no");  // the flute is off screen
  SceneTruth onscreen = t;
  onscreen.instruments.pop_back();
  EXPECT_EQ(answer("Is this sound from the instrument in the video?", onscreen, {}), "yes");
  EXPECT_EQ(answer("Is the <Object> in the video always playing?", t, {"violin"}), "yes");
  EXPECT_EQ(answer("Is the <Object> in the video always playing?", t, {"piano"}), "no");
  EXPECT_EQ(answer("How many instruments are sounding in the video?", t, {}), "two");
  EXPECT_EQ(answer("How many instruments in the video did not sound from beginning to end?", t, {}),
            "one");
  EXPECT_EQ(answer("How many sounding <Object> in the video\xEF\xBC\x9F", t, {"cello"}), "zero");
  EXPECT_EQ(answer("How many types of musical instruments sound in the video?", t, {}), "two");
}

TEST(QuestionTemplates, LocationAndTimeFollowOnsets) {
  const SceneTruth t = quartet();
  EXPECT_EQ(answer("Where is the <LL> instrument?", t, {"loudest"}), "left");
  EXPECT_EQ(answer("Where is the <LL> instrument?", t, {"lowest"}), "middle");
  EXPECT_EQ(answer("Is the <FL> sound coming from the <LR> instrument?", t, {"first", "left"}),
            "yes");
  EXPECT_EQ(answer("Is the <FL> sound coming from the <LR> instrument?", t, {"last", "left"}),
            "no");
  EXPECT_EQ(
      answer("What is the <LR> instrument of the <FL> sounding instrument?", t, {"right", "first"}),
      "piano");
  // The off-screen flute comes in last: it is heard, so it takes part in the order, and "where"
  // has no answer for it while "is it from the left one" does.
  EXPECT_EQ(answer("Where is the <FL> sounding instrument?", t, {"last"}), "-");
  EXPECT_EQ(answer("Where is the <FL> sounding instrument?", t, {"first"}), "left");
  EXPECT_EQ(answer("Is the <FL> sound coming from the <LR> instrument?", t, {"last", "middle"}),
            "no");
  EXPECT_EQ(answer("What is the <TH> instrument that comes in?", t, {"second"}), "piano");
  EXPECT_EQ(answer("What is the <TH> instrument that comes in?", t, {"third"}), "flute");
  EXPECT_EQ(answer("Which instrument makes sounds <BA> the <Object>?", t, {"after", "piano"}),
            "flute");
  SceneTruth onscreen = t;
  onscreen.instruments.pop_back();
  EXPECT_EQ(answer("Where is the <FL> sounding instrument?", onscreen, {"last"}), "middle");
  EXPECT_EQ(answer("Which instrument makes sounds <BA> the <Object>?", t, {"after", "violin"}),
            "piano");
  EXPECT_EQ(answer("Which instrument makes sounds <BA> the <Object>?", t, {"before", "piano"}),
            "violin");
  EXPECT_EQ(answer("Which is the musical instrument that sounds at the same time as the <Object>?",
                   t, {"piano"}),
            "violin");
}

TEST(QuestionTemplates, SameClassTwiceGivesColumnsOrSimultaneously) {
  const SceneTruth staggered = scene({instrument("violin", Column::Left, 30, "0011111111"),
                                      instrument("violin", Column::Right, 190, "1111100000")});
  EXPECT_EQ(answer("Which <Object> makes the sound <FL>?", staggered, {"violin", "first"}),
            "right");
  EXPECT_EQ(answer("Which <Object> makes the sound <FL>?", staggered, {"violin", "last"}), "left");
  EXPECT_EQ(answer("How many <Object> are in the entire video?", staggered, {"violin"}), "two");
  const SceneTruth together = scene({instrument("violin", Column::Left, 30, "0011111111"),
                                     instrument("violin", Column::Right, 190, "0011100000")});
  EXPECT_EQ(answer("Which <Object> makes the sound <FL>?", together, {"violin", "first"}),
            "simultaneously");
  // Entries are measured in seconds, not whole seconds: 0.05 s apart is together, 0.3 s apart
  // is neither together nor clearly one first (not asked), 0.8 s apart is an order.
  auto entering = [](double a, double b) {
    SceneTruth s = scene({instrument("violin", Column::Left, 30, "0011111111"),
                          instrument("violin", Column::Right, 190, "0011111111")});
    s.instruments[0].first_sound = a;
    s.instruments[1].first_sound = b;
    return answer("Which <Object> makes the sound <FL>?", s, {"violin", "first"});
  };
  EXPECT_EQ(entering(2.02, 2.07), "simultaneously");
  EXPECT_EQ(entering(2.02, 2.32), "-");
  EXPECT_EQ(entering(2.82, 2.02), "right");
  // Two violins: "the violin" is ambiguous, so class-named questions are not asked about it.
  EXPECT_EQ(answer("Is the <Object> in the video always playing?", staggered, {"violin"}), "-");
}

TEST(QuestionTemplates, CountAnswersUseTheVocabularyWords) {
  EXPECT_EQ(count_answer(0), "zero");
  EXPECT_EQ(count_answer(10), "ten");
  EXPECT_EQ(count_answer(11), "more than ten");
}

}  // namespace
}  // namespace avqa::synthetic
