#pragma once

#include <array>
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace avqa::data {

/// The three question groups of MUSIC-AVQA, by the modality a question is about.
enum class Modality { Audio, Visual, AudioVisual };

/// The nine MUSIC-AVQA question types, in the order of the paper's result table.
enum class QuestionType {
  AudioCounting,
  AudioComparative,
  VisualCounting,
  VisualLocation,
  AudioVisualExistential,
  AudioVisualCounting,
  AudioVisualLocation,
  AudioVisualComparative,
  AudioVisualTemporal,
};

inline constexpr std::size_t kNumQuestionTypes = 9;
inline constexpr std::size_t kNumModalities = 3;

inline constexpr std::array<QuestionType, kNumQuestionTypes> kAllQuestionTypes = {
    QuestionType::AudioCounting,          QuestionType::AudioComparative,
    QuestionType::VisualCounting,         QuestionType::VisualLocation,
    QuestionType::AudioVisualExistential, QuestionType::AudioVisualCounting,
    QuestionType::AudioVisualLocation,    QuestionType::AudioVisualComparative,
    QuestionType::AudioVisualTemporal,
};
inline constexpr std::array<Modality, kNumModalities> kAllModalities = {
    Modality::Audio, Modality::Visual, Modality::AudioVisual};

constexpr std::size_t index_of(QuestionType type) {
  return static_cast<std::size_t>(type);
}
constexpr std::size_t index_of(Modality modality) {
  return static_cast<std::size_t>(modality);
}

Modality modality_of(QuestionType type);

/// The group name as the annotation files spell it: "Audio", "Visual", "Audio-Visual".
std::string_view modality_name(Modality modality);
/// The type name as the annotation files spell it: "Counting", "Comparative", ...
std::string_view type_name(QuestionType type);
/// A short label for tables and JSON keys: "A-Count", "AV-Temp", ...
std::string_view short_label(QuestionType type);
/// A short label for a group: "A", "V", "AV".
std::string_view short_label(Modality modality);

/// Parses the pair found in the `type` field, e.g. {"Audio-Visual", "Temporal"}. Throws
/// std::invalid_argument naming the known types when the pair is not one of the nine.
QuestionType parse_question_type(const std::vector<std::string>& pair);

}  // namespace avqa::data
