#include "datasets/annotations.h"

#include <gtest/gtest.h>

#include "tests/test_paths.h"

namespace avqa::data {
namespace {

using avqa::testing::fixture;
using Strings = std::vector<std::string>;

// Runs `fn`, expecting an InputError at `record` / `field` whose message contains `text`.
template <typename Fn>
void expect_input_error(Fn fn,
                        std::optional<std::size_t> record,
                        const std::string& field,
                        const std::string& text) {
  try {
    fn();
    FAIL() << "expected an InputError";
  } catch (const core::InputError& e) {
    EXPECT_EQ(e.where().record, record) << e.what();
    EXPECT_EQ(e.where().field, field) << e.what();
    EXPECT_NE(std::string(e.what()).find(text), std::string::npos) << e.what();
  }
}

TEST(LoadAnnotations, ReadsEveryFieldOfTheValidFixture) {
  const AnnotationSet set = load_annotations(fixture("annotations/valid.json"));
  ASSERT_EQ(set.records.size(), 5u);
  EXPECT_EQ(set.records_in_file, 5u);
  EXPECT_TRUE(set.duplicates.empty());

  const AnnotationRecord& counting = set.records[1];
  EXPECT_EQ(counting.video_id, "00000100");
  EXPECT_EQ(counting.question_id, 35);
  EXPECT_EQ(counting.type, QuestionType::AudioVisualCounting);
  EXPECT_EQ(counting.templ_values, Strings{"violin"});
  EXPECT_EQ(counting.answer, "three");
  EXPECT_EQ(counting.words, (Strings{"How", "many", "sounding", "violin", "in", "the", "video"}));
  EXPECT_EQ(counting.source_index, 1u);

  // Python-style quotes in both list fields, trailing spaces after the mark.
  const AnnotationRecord& comparative = set.records[2];
  EXPECT_EQ(comparative.type, QuestionType::AudioVisualComparative);
  EXPECT_EQ(comparative.templ_values, (Strings{"violin", "left", "cello", "right"}));
  EXPECT_EQ(comparative.words.back(), "right");
  EXPECT_EQ(comparative.words.size(), 13u);

  // `answer` is accepted in place of the misspelt `anser`.
  EXPECT_EQ(set.records[3].answer, "indoor");
  EXPECT_EQ(set.records[3].words.back(), "performance");
  EXPECT_EQ(set.records[4].type, QuestionType::AudioVisualTemporal);
}

TEST(LoadAnnotations, PlaceholderMismatchNamesRecordAndField) {
  expect_input_error([] { load_annotations(fixture("annotations/placeholder_mismatch.json")); }, 1,
                     "templ_values", "2 placeholder(s) but templ_values has 1");
}

TEST(LoadAnnotations, UnknownTypeIsAnError) {
  expect_input_error([] { load_annotations(fixture("annotations/unknown_type.json")); }, 0, "type",
                     "unknown question type [\"Audio\", \"Location\"]");
}

TEST(LoadAnnotations, WrongJsonTypesAreErrors) {
  expect_input_error([] { load_annotations(fixture("annotations/wrong_json_types.json")); }, 0,
                     "question_id", "must be an integer, found a JSON string");
  const auto errors = find_annotation_errors(fixture("annotations/wrong_json_types.json"), {}, 50);
  std::vector<std::pair<std::optional<std::size_t>, std::string>> where;
  for (const auto& e : errors)
    where.emplace_back(e.where().record, e.where().field);
  const std::vector<std::pair<std::optional<std::size_t>, std::string>> expected = {
      {0, "question_id"}, {1, "video_id"}, {1, "templ_values"}, {1, "question_deleted"}, {2, ""}};
  EXPECT_EQ(where, expected);  // record 1's `type` is a real JSON array, which is accepted
}

TEST(LoadAnnotations, TruncatedJsonNamesTheFileAndPosition) {
  expect_input_error([] { load_annotations(fixture("annotations/truncated.json")); }, std::nullopt,
                     "", "invalid JSON at line 3");
}

TEST(LoadAnnotations, MissingFileAndWrongTopLevel) {
  expect_input_error([] { load_annotations(fixture("annotations/no_such_file.json")); },
                     std::nullopt, "", "cannot open");
  expect_input_error([] { parse_annotations("{\"video_id\": \"1\"}", "inline"); }, std::nullopt, "",
                     "must be a JSON array");
  EXPECT_TRUE(parse_annotations("[]", "inline").records.empty());
}

TEST(LoadAnnotations, MissingFieldsAndEmptyValues) {
  expect_input_error(
      [] {
        parse_annotations(
            R"([{"video_id": "1", "question_id": 1, "type": "[\"Visual\", \"Location\"]",
      "question_content": "Where is the performance?", "templ_values": "[]"}])",
            "inline");
      },
      0, "anser", "is missing");
  expect_input_error(
      [] {
        parse_annotations(
            R"([{"video_id": "", "question_id": 1, "type": "[\"Visual\", \"Location\"]",
      "question_content": "Where is the performance?", "templ_values": "[]", "anser": "indoor"}])",
            "inline");
      },
      0, "video_id", "must not be empty");
  expect_input_error(
      [] {
        parse_annotations(
            R"([{"video_id": "1", "question_id": 1.5, "type": "[\"Visual\", \"Location\"]",
      "question_content": "Where is the performance?", "templ_values": "[]", "anser": "indoor"}])",
            "inline");
      },
      0, "question_id", "found a number");
  expect_input_error(
      [] {
        parse_annotations(
            R"([{"video_id": "1", "question_id": 1, "type": "[\"Visual\", \"Location\"]",
      "question_content": "Where is the performance?", "templ_values": "[]", "anser": "indoor", "answer": "outdoor"}])",
            "inline");
      },
      0, "answer", "differs from 'anser'");
  expect_input_error(
      [] {
        parse_annotations(R"([{"video_id": "1", "question_id": 1, "type": "[\"Visual\"]",
      "question_content": "Where is the performance?", "templ_values": "[]", "anser": "indoor"}])",
                          "inline");
      },
      0, "type", "unknown question type");
  expect_input_error(
      [] {
        parse_annotations(
            R"([{"video_id": "1", "question_id": 1, "type": "[\"Visual\", \"Location\"]",
      "question_content": "Where is the performance?", "templ_values": "[violin]", "anser": "indoor"}])",
            "inline");
      },
      0, "templ_values", "not a list of strings");
}

TEST(LoadAnnotations, NothingIsHalfLoaded) {
  // The bad record is the second one: the first must not come back on its own.
  EXPECT_THROW(load_annotations(fixture("annotations/placeholder_mismatch.json")),
               core::InputError);
}

TEST(Duplicates, DetectedAndReportedWithConflicts) {
  const AnnotationSet set =
      load_annotations(fixture("annotations/duplicate_ids.json"), {DuplicatePolicy::KeepAll});
  ASSERT_EQ(set.duplicates.size(), 1u);
  EXPECT_EQ(set.duplicates[0].question_id, 7);
  EXPECT_EQ(set.duplicates[0].records, (std::vector<std::size_t>{0, 2}));
  EXPECT_TRUE(set.duplicates[0].conflicting_answers);
  EXPECT_TRUE(set.duplicates[0].same_video_and_question);
  EXPECT_EQ(set.records.size(), 3u);
}

TEST(Duplicates, PolicyErrorNamesBothRecords) {
  expect_input_error([] { load_annotations(fixture("annotations/duplicate_ids.json")); }, 2,
                     "question_id",
                     "question_id 7 already used by record 0 with a different answer");
}

TEST(Duplicates, KeepFirstAndKeepLast) {
  const auto first =
      load_annotations(fixture("annotations/duplicate_ids.json"), {DuplicatePolicy::KeepFirst});
  ASSERT_EQ(first.records.size(), 2u);
  EXPECT_EQ(first.records[0].answer, "two");
  EXPECT_EQ(first.records[1].question_id, 8);
  const auto last =
      load_annotations(fixture("annotations/duplicate_ids.json"), {DuplicatePolicy::KeepLast});
  ASSERT_EQ(last.records.size(), 2u);
  EXPECT_EQ(last.records[0].question_id, 8);
  EXPECT_EQ(last.records[1].answer, "four");
  EXPECT_EQ(last.records[1].source_index, 2u);
}

TEST(Duplicates, PolicyNames) {
  for (const auto policy : {DuplicatePolicy::Error, DuplicatePolicy::KeepFirst,
                            DuplicatePolicy::KeepLast, DuplicatePolicy::KeepAll}) {
    EXPECT_EQ(parse_duplicate_policy(to_string(policy)), policy);
  }
  EXPECT_THROW(parse_duplicate_policy("first"), std::invalid_argument);
}

TEST(FindAnnotationErrors, StopsAtTheLimitAndIsEmptyForValidFiles) {
  EXPECT_TRUE(find_annotation_errors(fixture("annotations/valid.json"), {}, 10).empty());
  EXPECT_EQ(find_annotation_errors(fixture("annotations/wrong_json_types.json"), {}, 2).size(), 2u);
}

}  // namespace
}  // namespace avqa::data
