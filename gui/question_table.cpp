#include "gui/question_table.h"

#include <algorithm>
#include <cctype>
#include <map>
#include <utility>

#include <nlohmann/json.hpp>

#include "core/input_error.h"
#include "datasets/annotations.h"
#include "datasets/question_text.h"

namespace avqa::gui {

namespace fs = std::filesystem;

namespace {

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

}  // namespace

QuestionTable::QuestionTable(const fs::path& annotations) : annotations_(annotations) {
  // Every record, as the original loader keeps them: a browser shows the file as it is.
  data::LoadOptions options;
  options.duplicates = data::DuplicatePolicy::KeepAll;
  const data::AnnotationSet set = data::load_annotations(annotations, options);
  rows_.reserve(set.records.size());
  for (const data::AnnotationRecord& r : set.records) {
    QuestionRow row;
    row.record = r.source_index;
    row.video_id = r.video_id;
    row.question_id = r.question_id;
    row.type = r.type;
    row.question_template = r.question_content;
    row.values = r.templ_values;
    row.question = data::filled_question(r.question_content, r.templ_values);
    row.truth = r.answer;
    rows_.push_back(std::move(row));
  }
}

std::size_t QuestionTable::attach_predictions(const fs::path& predictions) {
  nlohmann::json list;
  try {
    list = nlohmann::json::parse(data::read_text_file(predictions));
  } catch (const nlohmann::json::exception& e) {
    throw core::InputError({predictions.string(), std::nullopt, ""},
                           std::string("is not JSON: ") + e.what());
  }
  if (!list.is_array()) {
    throw core::InputError({predictions.string(), std::nullopt, ""},
                           "must be a list of predictions (avqa eval --predictions)");
  }
  // question_id alone is unique in the json_update release; older files repeat ids across
  // videos, so the pair decides.
  std::map<std::pair<std::int64_t, std::string>, std::string> predicted;
  for (std::size_t i = 0; i < list.size(); ++i) {
    const auto& p = list[i];
    for (const char* field : {"question_id", "video_id", "predicted"}) {
      if (!p.is_object() || !p.contains(field)) {
        throw core::InputError({predictions.string(), i, field}, "is missing");
      }
    }
    if (!p["question_id"].is_number_integer())
      throw core::InputError({predictions.string(), i, "question_id"}, "must be an integer");
    if (!p["video_id"].is_string() || !p["predicted"].is_string())
      throw core::InputError({predictions.string(), i, "predicted"}, "must be text");
    predicted[{p["question_id"].get<std::int64_t>(), p["video_id"].get<std::string>()}] =
        p["predicted"].get<std::string>();
  }
  std::size_t attached = 0;
  for (QuestionRow& row : rows_) {
    const auto found = predicted.find({row.question_id, row.video_id});
    row.predicted.reset();
    if (found == predicted.end()) continue;
    row.predicted = found->second;
    ++attached;
  }
  return attached;
}

std::optional<fs::path> QuestionTable::video_file(const QuestionRow& row) const {
  // <dataset>/annotations/<file>.json -> <dataset>/videos/<id>.<ext>
  const fs::path folder = annotations_.parent_path().parent_path() / "videos";
  for (const char* extension : {".mp4", ".mkv", ".avi", ".mov", ".webm"}) {
    const fs::path candidate = folder / (row.video_id + extension);
    std::error_code ec;
    if (fs::is_regular_file(candidate, ec)) return candidate;
  }
  return std::nullopt;
}

std::vector<std::size_t> QuestionTable::filtered(const QuestionFilter& f) const {
  const std::string needle = lower(f.text);
  std::vector<std::size_t> kept;
  for (std::size_t i = 0; i < rows_.size(); ++i) {
    const QuestionRow& r = rows_[i];
    if (f.type && r.type != *f.type) continue;
    if (f.group && data::modality_of(r.type) != *f.group) continue;
    switch (f.correctness) {
      case Correctness::Any:
        break;
      case Correctness::Correct:
        if (!r.correct()) continue;
        break;
      case Correctness::Wrong:
        if (!r.predicted || r.correct()) continue;
        break;
      case Correctness::Unpredicted:
        if (r.predicted) continue;
        break;
    }
    if (!needle.empty()) {
      const std::string haystack =
          lower(r.question + '\n' + r.truth + '\n' + r.predicted.value_or("") + '\n' + r.video_id);
      if (haystack.find(needle) == std::string::npos) continue;
    }
    kept.push_back(i);
  }
  return kept;
}

std::map<data::QuestionType, Accuracy> QuestionTable::accuracy_by_type(
    const std::vector<std::size_t>& rows) const {
  std::map<data::QuestionType, Accuracy> by_type;
  for (const std::size_t i : rows) {
    const QuestionRow& r = rows_.at(i);
    if (!r.predicted) continue;
    Accuracy& a = by_type[r.type];
    ++a.predicted;
    if (r.correct()) ++a.correct;
  }
  return by_type;
}

Accuracy QuestionTable::accuracy(const std::vector<std::size_t>& rows) const {
  Accuracy total;
  for (const auto& [type, a] : accuracy_by_type(rows)) {
    total.correct += a.correct;
    total.predicted += a.predicted;
  }
  return total;
}

}  // namespace avqa::gui
