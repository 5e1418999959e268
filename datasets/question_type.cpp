#include "datasets/question_type.h"

#include <stdexcept>

namespace avqa::data {
namespace {

struct TypeInfo {
  Modality modality;
  std::string_view name;
  std::string_view label;
};

constexpr std::array<TypeInfo, kNumQuestionTypes> kTypeInfo = {{
    {Modality::Audio, "Counting", "A-Count"},
    {Modality::Audio, "Comparative", "A-Comp"},
    {Modality::Visual, "Counting", "V-Count"},
    {Modality::Visual, "Location", "V-Loc"},
    {Modality::AudioVisual, "Existential", "AV-Exist"},
    {Modality::AudioVisual, "Counting", "AV-Count"},
    {Modality::AudioVisual, "Location", "AV-Loc"},
    {Modality::AudioVisual, "Comparative", "AV-Comp"},
    {Modality::AudioVisual, "Temporal", "AV-Temp"},
}};

}  // namespace

Modality modality_of(QuestionType type) {
  return kTypeInfo[index_of(type)].modality;
}

std::string_view modality_name(Modality modality) {
  switch (modality) {
    case Modality::Audio:
      return "Audio";
    case Modality::Visual:
      return "Visual";
    case Modality::AudioVisual:
      return "Audio-Visual";
  }
  return "?";
}

std::string_view short_label(Modality modality) {
  switch (modality) {
    case Modality::Audio:
      return "A";
    case Modality::Visual:
      return "V";
    case Modality::AudioVisual:
      return "AV";
  }
  return "?";
}

std::string_view type_name(QuestionType type) {
  return kTypeInfo[index_of(type)].name;
}

std::string_view short_label(QuestionType type) {
  return kTypeInfo[index_of(type)].label;
}

QuestionType parse_question_type(const std::vector<std::string>& pair) {
  if (pair.size() == 2) {
    for (const QuestionType type : kAllQuestionTypes) {
      const TypeInfo& info = kTypeInfo[index_of(type)];
      if (pair[0] == modality_name(info.modality) && pair[1] == info.name) return type;
    }
  }
  std::string given = "[";
  for (std::size_t i = 0; i < pair.size(); ++i)
    given += (i ? ", \"" : "\"") + pair[i] + "\"";
  given += "]";
  std::string known;
  for (const QuestionType type : kAllQuestionTypes) {
    if (!known.empty()) known += ", ";
    known += std::string(modality_name(modality_of(type))) + "/" + std::string(type_name(type));
  }
  throw std::invalid_argument("unknown question type " + given + "; expected one of: " + known);
}

}  // namespace avqa::data
