#include "datasets/annotation_stats.h"

#include <algorithm>
#include <cstdio>
#include <map>
#include <set>
#include <unordered_map>

#include <nlohmann/json.hpp>

#include "datasets/type_accuracy.h"

namespace avqa::data {
namespace {

AnnotationStats::AnswerCounts sorted_counts(
    const std::unordered_map<std::string, std::size_t>& counts) {
  AnnotationStats::AnswerCounts sorted(counts.begin(), counts.end());
  std::sort(sorted.begin(), sorted.end(), [](const auto& a, const auto& b) {
    return a.second != b.second ? a.second > b.second : a.first < b.first;
  });
  return sorted;
}

std::string count_cell(std::size_t count, std::size_t total) {
  char buffer[48];
  std::snprintf(buffer, sizeof buffer, "%6zu  %5.1f%%", count,
                total ? 100.0 * static_cast<double>(count) / static_cast<double>(total) : 0.0);
  return buffer;
}

std::string trimmed(const std::string& text) {
  const auto end = text.find_last_not_of(" \t\r\n\v\f");
  return end == std::string::npos ? std::string() : text.substr(0, end + 1);
}

}  // namespace

AnnotationStats compute_stats(const AnnotationSet& set) {
  AnnotationStats stats;
  stats.source = set.source;
  stats.records = set.records.size();
  stats.duplicates = set.duplicates;
  std::set<std::string> videos;
  std::set<std::string> templates;
  std::unordered_map<std::string, std::size_t> answers;
  std::array<std::unordered_map<std::string, std::size_t>, kNumQuestionTypes> answers_per_type;
  for (const AnnotationRecord& r : set.records) {
    videos.insert(r.video_id);
    templates.insert(trimmed(r.question_content));
    stats.max_words = std::max(stats.max_words, r.words.size());
    ++stats.per_type[index_of(r.type)];
    ++stats.per_modality[index_of(modality_of(r.type))];
    ++answers[r.answer];
    ++answers_per_type[index_of(r.type)][r.answer];
  }
  stats.videos = videos.size();
  stats.templates = templates.size();
  stats.answers = sorted_counts(answers);
  for (std::size_t t = 0; t < kNumQuestionTypes; ++t)
    stats.answers_per_type[t] = sorted_counts(answers_per_type[t]);
  return stats;
}

std::string format_stats(const AnnotationStats& stats, std::size_t top_answers) {
  std::string out = stats.source + "\n";
  char line[256];
  std::size_t conflicting = 0;
  for (const auto& d : stats.duplicates)
    conflicting += d.conflicting_answers ? 1 : 0;
  std::snprintf(
      line, sizeof line,
      "  records %zu, videos %zu, templates %zu, answers %zu, longest question %zu words\n",
      stats.records, stats.videos, stats.templates, stats.answers.size(), stats.max_words);
  out += line;
  if (stats.duplicates.empty()) {
    out += "  duplicate question_ids: none\n";
  } else {
    std::snprintf(
        line, sizeof line,
        "  duplicate question_ids: %zu (%zu with conflicting answers), e.g. id %lld at records",
        stats.duplicates.size(), conflicting,
        static_cast<long long>(stats.duplicates.front().question_id));
    out += line;
    for (const std::size_t r : stats.duplicates.front().records)
      out += " " + std::to_string(r);
    out += "\n";
  }
  out += "\n" +
         format_type_table(
             "Questions per type          count  share",
             [&](QuestionType t) { return count_cell(stats.per_type[index_of(t)], stats.records); },
             [&](Modality m) { return count_cell(stats.per_modality[index_of(m)], stats.records); },
             [&] { return count_cell(stats.records, stats.records); });
  if (top_answers > 0) {
    out += "\nMost frequent answers per type\n";
    for (const QuestionType t : kAllQuestionTypes) {
      const auto& counts = stats.answers_per_type[index_of(t)];
      const std::size_t total = stats.per_type[index_of(t)];
      std::string row(short_label(t));
      row.resize(10, ' ');
      for (std::size_t i = 0; i < std::min(top_answers, counts.size()); ++i) {
        std::snprintf(line, sizeof line, "%s%s %.0f%%", i ? ", " : "", counts[i].first.c_str(),
                      100.0 * static_cast<double>(counts[i].second) / static_cast<double>(total));
        row += line;
      }
      if (counts.size() > top_answers)
        row += ", ... (" + std::to_string(counts.size()) + " answers)";
      out += "  " + row + "\n";
    }
  }
  return out;
}

std::string stats_to_json(const std::vector<AnnotationStats>& all) {
  using json = nlohmann::json;
  json files = json::array();
  auto counts_json = [](const AnnotationStats::AnswerCounts& counts) {
    json list = json::array();
    for (const auto& [answer, count] : counts)
      list.push_back({{"answer", answer}, {"count", count}});
    return list;
  };
  for (const AnnotationStats& s : all) {
    json per_type = json::object();
    json answers_per_type = json::object();
    for (const QuestionType t : kAllQuestionTypes) {
      per_type[std::string(short_label(t))] = s.per_type[index_of(t)];
      answers_per_type[std::string(short_label(t))] = counts_json(s.answers_per_type[index_of(t)]);
    }
    json per_group = json::object();
    for (const Modality m : kAllModalities)
      per_group[std::string(modality_name(m))] = s.per_modality[index_of(m)];
    json duplicates = json::array();
    for (const auto& d : s.duplicates) {
      duplicates.push_back({{"question_id", d.question_id},
                            {"records", d.records},
                            {"same_video_and_question", d.same_video_and_question},
                            {"conflicting_answers", d.conflicting_answers}});
    }
    files.push_back({{"file", s.source},
                     {"records", s.records},
                     {"videos", s.videos},
                     {"templates", s.templates},
                     {"max_words", s.max_words},
                     {"questions_per_type", per_type},
                     {"questions_per_group", per_group},
                     {"answers", counts_json(s.answers)},
                     {"answers_per_type", answers_per_type},
                     {"duplicates", duplicates}});
  }
  return files.dump(2);
}

}  // namespace avqa::data
