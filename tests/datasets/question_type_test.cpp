#include "datasets/question_type.h"

#include <set>

#include <gtest/gtest.h>

namespace avqa::data {
namespace {

TEST(QuestionType, NineTypesInThreeGroups) {
  std::size_t per_group[kNumModalities] = {};
  for (const QuestionType type : kAllQuestionTypes)
    ++per_group[index_of(modality_of(type))];
  EXPECT_EQ(per_group[index_of(Modality::Audio)], 2u);
  EXPECT_EQ(per_group[index_of(Modality::Visual)], 2u);
  EXPECT_EQ(per_group[index_of(Modality::AudioVisual)], 5u);
}

TEST(QuestionType, ParsesEveryPairBackAndLabelsAreUnique) {
  std::set<std::string_view> labels;
  for (const QuestionType type : kAllQuestionTypes) {
    const std::vector<std::string> pair = {std::string(modality_name(modality_of(type))),
                                           std::string(type_name(type))};
    EXPECT_EQ(parse_question_type(pair), type);
    labels.insert(short_label(type));
  }
  EXPECT_EQ(labels.size(), kNumQuestionTypes);
  EXPECT_EQ(parse_question_type({"Audio-Visual", "Temporal"}), QuestionType::AudioVisualTemporal);
}

TEST(QuestionType, UnknownOrMalformedIsAnError) {
  EXPECT_THROW(parse_question_type({"Audio", "Location"}), std::invalid_argument);
  EXPECT_THROW(parse_question_type({"audio", "Counting"}), std::invalid_argument);  // case matters
  EXPECT_THROW(parse_question_type({"Audio"}), std::invalid_argument);
  EXPECT_THROW(parse_question_type({"Audio", "Counting", "Extra"}), std::invalid_argument);
}

}  // namespace
}  // namespace avqa::data
