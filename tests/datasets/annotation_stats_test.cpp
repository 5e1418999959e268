#include "datasets/annotation_stats.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "tests/test_paths.h"

namespace avqa::data {
namespace {

using avqa::testing::fixture;

TEST(AnnotationStats, CountsRecordsVideosTypesAndAnswers) {
  const AnnotationStats stats = compute_stats(load_annotations(fixture("annotations/valid.json")));
  EXPECT_EQ(stats.records, 5u);
  EXPECT_EQ(stats.videos, 3u);
  EXPECT_EQ(stats.templates, 5u);
  EXPECT_EQ(stats.max_words, 13u);
  EXPECT_EQ(stats.per_type[index_of(QuestionType::AudioCounting)], 1u);
  EXPECT_EQ(stats.per_type[index_of(QuestionType::VisualCounting)], 0u);
  EXPECT_EQ(stats.per_modality[index_of(Modality::AudioVisual)], 3u);
  EXPECT_EQ(stats.answers.size(), 5u);
}

TEST(AnnotationStats, DuplicatesAndTopAnswersAppearInTextAndJson) {
  const AnnotationSet set =
      load_annotations(fixture("annotations/duplicate_ids.json"), {DuplicatePolicy::KeepAll});
  const AnnotationStats stats = compute_stats(set);
  const std::string text = format_stats(stats, 3);
  EXPECT_NE(
      text.find("duplicate question_ids: 1 (1 with conflicting answers), e.g. id 7 at records 0 2"),
      std::string::npos)
      << text;
  EXPECT_NE(text.find("AV-Count  four 50%, two 50%"), std::string::npos) << text;

  const auto json = nlohmann::json::parse(stats_to_json({stats}));
  ASSERT_EQ(json.size(), 1u);
  EXPECT_EQ(json[0]["records"].get<int>(), 3);
  EXPECT_EQ(json[0]["questions_per_type"]["AV-Count"].get<int>(), 2);
  EXPECT_EQ(json[0]["questions_per_group"]["Visual"].get<int>(), 1);
  EXPECT_EQ(json[0]["duplicates"][0]["question_id"].get<int>(), 7);
  EXPECT_TRUE(json[0]["duplicates"][0]["conflicting_answers"].get<bool>());
}

}  // namespace
}  // namespace avqa::data
