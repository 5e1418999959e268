#pragma once

#include <array>
#include <cstddef>
#include <string>
#include <utility>
#include <vector>

#include "datasets/annotations.h"

namespace avqa::data {

/// What `avqa data stats` reports about one annotation file.
struct AnnotationStats {
  using AnswerCounts = std::vector<std::pair<std::string, std::size_t>>;  ///< most frequent first

  std::string source;
  std::size_t records = 0;    ///< kept records (after the duplicate policy)
  std::size_t videos = 0;     ///< distinct video_id
  std::size_t templates = 0;  ///< distinct question_content (trailing whitespace ignored)
  std::size_t max_words = 0;  ///< longest question in words (the original rule)
  std::array<std::size_t, kNumQuestionTypes> per_type{};
  std::array<std::size_t, kNumModalities> per_modality{};
  AnswerCounts answers;  ///< over all records
  std::array<AnswerCounts, kNumQuestionTypes> answers_per_type;
  std::vector<DuplicateQuestionId> duplicates;
};

AnnotationStats compute_stats(const AnnotationSet& set);

/// Human-readable report: totals, the per-type table and the `top_answers` most frequent
/// answers of each type.
std::string format_stats(const AnnotationStats& stats, std::size_t top_answers = 5);

/// The same as JSON (all answers, every duplicate).
std::string stats_to_json(const std::vector<AnnotationStats>& stats);

}  // namespace avqa::data
