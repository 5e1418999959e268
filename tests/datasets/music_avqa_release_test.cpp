// The real MUSIC-AVQA val/test annotation files from ../shared (skipped, with a message, when
// absent). Figures are those of the release (st-avqa.md §7, §8, §10), recounted here.
#include <algorithm>
#include <array>
#include <iostream>
#include <map>
#include <set>

#include <gtest/gtest.h>

#include "datasets/annotation_stats.h"
#include "datasets/annotations.h"
#include "datasets/vocabulary.h"
#include "tests/test_paths.h"

namespace avqa::data {
namespace {

const LoadOptions kKeepAll{DuplicatePolicy::KeepAll};

TEST(MusicAvqaRelease, RecordCounts) {
  AVQA_REQUIRE_MUSIC_AVQA(dir);
  const std::map<std::string, std::size_t> expected = {
      {"json_update/avqa-test.json", 9129}, {"json_update/avqa-val.json", 4568},
      {"json/avqa-test.json", 9185},        {"json/avqa-val.json", 4595},
      {"json/avqa-train_fake.json", 6233},
  };
  for (const auto& [file, count] : expected) {
    EXPECT_EQ(load_annotations(dir / file, kKeepAll).records.size(), count) << file;
  }
}

TEST(MusicAvqaRelease, DuplicatesOnlyInTheOriginalRelease) {
  AVQA_REQUIRE_MUSIC_AVQA(dir);
  const std::map<std::string, std::size_t> extra_records = {
      {"json/avqa-test.json", 55}, {"json/avqa-val.json", 27}, {"json/avqa-train_fake.json", 56}};
  for (const auto& [file, extra] : extra_records) {
    const AnnotationSet set = load_annotations(dir / file, kKeepAll);
    std::size_t repeats = 0;
    for (const auto& d : set.duplicates)
      repeats += d.records.size() - 1;
    EXPECT_EQ(repeats, extra) << file;
    EXPECT_THROW(load_annotations(dir / file), core::InputError) << file;  // default policy: error
    EXPECT_EQ(load_annotations(dir / file, {DuplicatePolicy::KeepFirst}).records.size(),
              set.records.size() - extra);
  }
  for (const char* file : {"json_update/avqa-test.json", "json_update/avqa-val.json"}) {
    EXPECT_TRUE(load_annotations(dir / file).duplicates.empty()) << file;
  }
}

TEST(MusicAvqaRelease, WordVocabularyHas93EntriesAndQuestionsAtMost14Words) {
  AVQA_REQUIRE_MUSIC_AVQA(dir);
  std::vector<AnnotationSet> sets;
  for (const char* file :
       {"json/avqa-val.json", "json/avqa-test.json", "json/avqa-train_fake.json"}) {
    sets.push_back(load_annotations(dir / file, kKeepAll));
  }
  const WordVocabulary vocab = WordVocabulary::build(sets);
  EXPECT_EQ(vocab.size(), 93u);
  EXPECT_EQ(vocab.word(0), "<pad>");
  const std::set<std::string> expected = {"Are",
                                          "How",
                                          "Is",
                                          "What",
                                          "Where",
                                          "Which",
                                          "a",
                                          "accordion",
                                          "acoustic_guitar",
                                          "after",
                                          "always",
                                          "and",
                                          "appeared",
                                          "are",
                                          "as",
                                          "at",
                                          "bagpipe",
                                          "banjo",
                                          "bassoon",
                                          "before",
                                          "beginning",
                                          "cello",
                                          "clarinet",
                                          "comes",
                                          "coming",
                                          "congas",
                                          "did",
                                          "drum",
                                          "electric_bass",
                                          "end",
                                          "entire",
                                          "erhu",
                                          "fifth",
                                          "first",
                                          "flute",
                                          "fourth",
                                          "from",
                                          "guzheng",
                                          "heard",
                                          "in",
                                          "instrument",
                                          "instruments",
                                          "is",
                                          "it",
                                          "kind",
                                          "last",
                                          "left",
                                          "leftest",
                                          "longer",
                                          "louder",
                                          "loudest",
                                          "lowest",
                                          "makes",
                                          "many",
                                          "middle",
                                          "more",
                                          "musical",
                                          "not",
                                          "of",
                                          "on",
                                          "performance",
                                          "piano",
                                          "pipa",
                                          "playing",
                                          "rhythmic",
                                          "right",
                                          "rightest",
                                          "same",
                                          "saxophone",
                                          "second",
                                          "sound",
                                          "sounding",
                                          "sounds",
                                          "suona",
                                          "than",
                                          "that",
                                          "the",
                                          "there",
                                          "third",
                                          "this",
                                          "throughout",
                                          "time",
                                          "to",
                                          "trumpet",
                                          "tuba",
                                          "types",
                                          "ukulele",
                                          "video",
                                          "violin",
                                          "voiceover",
                                          "were",
                                          "xylophone"};
  const std::set<std::string> words(vocab.words().begin() + 1, vocab.words().end());
  EXPECT_EQ(words, expected);

  std::size_t longest = 0;
  for (const auto& set : sets) {
    for (const auto& r : set.records)
      longest = std::max(longest, r.words.size());
    EXPECT_NO_THROW(encode_questions(set, vocab));
  }
  EXPECT_EQ(longest, kQuestionMaxLen);
}

TEST(MusicAvqaRelease, FortyTwoAnswersCoverEveryRecord) {
  AVQA_REQUIRE_MUSIC_AVQA(dir);
  const AnswerVocabulary answers = AnswerVocabulary::load(dir / "qa-tiger/answer2idx.json");
  ASSERT_EQ(answers.size(), kNumAnswers);
  EXPECT_EQ(answers.answer(0), "two");
  EXPECT_EQ(answers.answer(20), "more than ten");
  EXPECT_EQ(answers.answer(41), "suona");
  EXPECT_EQ(answers.answers(), music_avqa_answers());  // the built-in list is the file's
  std::set<std::string> seen;
  for (const char* file : {"json/avqa-val.json", "json/avqa-test.json", "json/avqa-train_fake.json",
                           "json_update/avqa-test.json", "json_update/avqa-val.json"}) {
    const AnnotationSet set = load_annotations(dir / file, kKeepAll);
    EXPECT_NO_THROW(encode_answers(set, answers)) << file;
    for (const auto& r : set.records)
      seen.insert(r.answer);
  }
  EXPECT_EQ(seen.size(), 41u);  // "ten" occurs only in the train file, which is not shipped
  EXPECT_EQ(seen.count("ten"), 0u);
}

TEST(MusicAvqaRelease, QuestionsPerTypeMatchTheRelease) {
  AVQA_REQUIRE_MUSIC_AVQA(dir);
  // A-Count, A-Comp, V-Count, V-Loc, AV-Exist, AV-Count, AV-Loc, AV-Comp, AV-Temp (st-avqa.md §8)
  const std::map<std::string, std::array<std::size_t, kNumQuestionTypes>> expected = {
      {"json/avqa-test.json", {1022, 601, 1199, 1228, 995, 1274, 927, 1115, 824}},
      {"json_update/avqa-test.json", {1017, 594, 1197, 1225, 988, 1265, 920, 1101, 822}},
  };
  for (const auto& [file, counts] : expected) {
    const AnnotationStats stats = compute_stats(load_annotations(dir / file, kKeepAll));
    EXPECT_EQ(stats.per_type, counts) << file;
    EXPECT_EQ(stats.templates, 33u) << file;
    const std::string text = format_stats(stats);
    EXPECT_NE(text.find("Temporal"), std::string::npos);
    std::cout << text;  // the per-type table, for the log
  }
}

}  // namespace
}  // namespace avqa::data
