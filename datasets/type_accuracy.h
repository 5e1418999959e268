#pragma once

#include <array>
#include <cstddef>
#include <optional>
#include <string>

#include "datasets/question_type.h"

namespace avqa::data {

/// Correct/total counts per question type with MUSIC-AVQA's pooling: group accuracies (Audio,
/// Visual, Audio-Visual) and the overall accuracy are pooled over questions, not averaged over
/// types, exactly as main_avst.py::test reports them.
class TypeAccuracy {
 public:
  void add(QuestionType type, bool correct);
  void merge(const TypeAccuracy& other);

  std::size_t count(QuestionType type) const { return total_[index_of(type)]; }
  std::size_t correct(QuestionType type) const { return correct_[index_of(type)]; }
  std::size_t count(Modality modality) const;
  std::size_t correct(Modality modality) const;
  std::size_t count() const;
  std::size_t correct() const;

  /// Fractions in [0, 1]; empty when no question of that kind was seen.
  std::optional<double> accuracy(QuestionType type) const;
  std::optional<double> accuracy(Modality modality) const;
  std::optional<double> accuracy() const;

  /// The standard breakdown, one line per type, then each group's pooled "Avg" and "Overall",
  /// percentages with two decimals and question counts.
  std::string format_table() const;
  /// {"A-Count": {"correct": c, "total": n, "accuracy": 78.18}, ..., "A-Avg": ..., "All": ...}
  std::string to_json() const;

 private:
  std::array<std::size_t, kNumQuestionTypes> total_{};
  std::array<std::size_t, kNumQuestionTypes> correct_{};
};

/// The layout both the accuracy table and the statistics share: a row per type grouped by
/// modality, a pooled row per group and one overall row. `cell` gives the text after the label.
template <typename TypeCell, typename GroupCell, typename OverallCell>
std::string format_type_table(const std::string& header,
                              TypeCell type_cell,
                              GroupCell group_cell,
                              OverallCell overall_cell) {
  std::string out = header + "\n";
  auto row = [&out](std::string_view group, std::string_view name, const std::string& cell) {
    std::string line(group);
    line.resize(14, ' ');
    line += name;
    line.resize(28, ' ');
    out += line + cell + "\n";
  };
  for (const Modality modality : kAllModalities) {
    bool first = true;
    for (const QuestionType type : kAllQuestionTypes) {
      if (modality_of(type) != modality) continue;
      row(first ? modality_name(modality) : "", type_name(type), type_cell(type));
      first = false;
    }
    row("", "Avg", group_cell(modality));
  }
  row("Overall", "", overall_cell());
  return out;
}

}  // namespace avqa::data
