#include "datasets/type_accuracy.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace avqa::data {
namespace {

TEST(TypeAccuracy, GroupsArePooledOverQuestionsNotAveragedOverTypes) {
  TypeAccuracy acc;
  // Audio: Counting 3/4 correct, Comparative 0/1. Pooled 3/5 = 60%, the mean of types would
  // be 37.5%.
  for (int i = 0; i < 3; ++i)
    acc.add(QuestionType::AudioCounting, true);
  acc.add(QuestionType::AudioCounting, false);
  acc.add(QuestionType::AudioComparative, false);
  // Visual Location 1/1.
  acc.add(QuestionType::VisualLocation, true);

  EXPECT_DOUBLE_EQ(*acc.accuracy(QuestionType::AudioCounting), 0.75);
  EXPECT_DOUBLE_EQ(*acc.accuracy(QuestionType::AudioComparative), 0.0);
  EXPECT_DOUBLE_EQ(*acc.accuracy(Modality::Audio), 0.6);
  EXPECT_DOUBLE_EQ(*acc.accuracy(Modality::Visual), 1.0);
  EXPECT_FALSE(acc.accuracy(Modality::AudioVisual).has_value());
  EXPECT_FALSE(acc.accuracy(QuestionType::VisualCounting).has_value());
  EXPECT_DOUBLE_EQ(*acc.accuracy(), 4.0 / 6.0);
  EXPECT_EQ(acc.count(), 6u);
  EXPECT_EQ(acc.correct(Modality::Audio), 3u);
}

TEST(TypeAccuracy, MergeAddsCounts) {
  TypeAccuracy a;
  TypeAccuracy b;
  a.add(QuestionType::AudioVisualTemporal, true);
  b.add(QuestionType::AudioVisualTemporal, false);
  b.add(QuestionType::AudioVisualTemporal, false);
  a.merge(b);
  EXPECT_EQ(a.count(QuestionType::AudioVisualTemporal), 3u);
  EXPECT_EQ(a.correct(QuestionType::AudioVisualTemporal), 1u);
}

TEST(TypeAccuracy, TableAndJsonCarryTheNumbers) {
  TypeAccuracy acc;
  acc.add(QuestionType::AudioCounting, true);
  acc.add(QuestionType::AudioCounting, false);
  acc.add(QuestionType::AudioVisualExistential, true);
  const std::string table = acc.format_table();
  EXPECT_NE(table.find("Audio         Counting       50.00  (1/2)"), std::string::npos) << table;
  EXPECT_NE(table.find("Overall" + std::string(21, ' ') + " 66.67  (2/3)"), std::string::npos)
      << table;
  EXPECT_NE(table.find("Audio-Visual  Existential   100.00  (1/1)"), std::string::npos) << table;

  const auto json = nlohmann::json::parse(acc.to_json());
  EXPECT_DOUBLE_EQ(json["A-Count"]["accuracy"].get<double>(), 50.0);
  EXPECT_EQ(json["A-Avg"]["total"].get<int>(), 2);
  EXPECT_TRUE(json["V-Avg"]["accuracy"].is_null());
  EXPECT_EQ(json["All"]["correct"].get<int>(), 2);
}

}  // namespace
}  // namespace avqa::data
