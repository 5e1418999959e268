#include "datasets/annotations.h"

#include <algorithm>
#include <fstream>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <stdexcept>

#include <nlohmann/json.hpp>

#include "datasets/python_literal.h"
#include "datasets/question_text.h"

namespace avqa::data {
namespace {

using json = nlohmann::json;

struct StopParsing {};

// Either throws the first problem (loading) or collects up to a limit (checking).
class ErrorSink {
 public:
  ErrorSink(std::string source, std::vector<core::InputError>* collected, std::size_t max_errors)
      : source_(std::move(source)), collected_(collected), max_errors_(max_errors) {}

  void report(std::optional<std::size_t> record,
              const std::string& field,
              const std::string& what) {
    core::InputError error({source_, record, field}, what);
    if (collected_ == nullptr) throw error;
    collected_->push_back(std::move(error));
    if (collected_->size() >= max_errors_) throw StopParsing{};
  }

  bool failed() const { return collected_ != nullptr && !collected_->empty(); }

 private:
  std::string source_;
  std::vector<core::InputError>* collected_;
  std::size_t max_errors_;
};

std::string describe_type(const json& value) {
  if (value.is_number_integer()) return "an integer";
  if (value.is_number()) return "a number";
  return std::string("a JSON ") + value.type_name();
}

std::string line_and_column(std::string_view text, std::size_t byte) {
  std::size_t line = 1;
  std::size_t column = 1;
  for (std::size_t i = 0; i < std::min(byte, text.size()); ++i) {
    if (text[i] == '\n') {
      ++line;
      column = 1;
    } else {
      ++column;
    }
  }
  return "line " + std::to_string(line) + ", column " + std::to_string(column);
}

class RecordReader {
 public:
  RecordReader(const json& object, std::size_t index, ErrorSink& errors)
      : object_(object), index_(index), errors_(errors) {}

  // A required string; `type` and `templ_values` hold lists as strings, so "empty" is allowed
  // where the caller says so.
  std::optional<std::string> string_field(const char* key, bool allow_empty = false) {
    const json* value = find(key, "a string");
    if (value == nullptr) return std::nullopt;
    if (!value->is_string()) {
      error(key, "must be a string, found " + describe_type(*value));
      return std::nullopt;
    }
    std::string text = value->get<std::string>();
    if (!allow_empty && text.find_first_not_of(" \t\r\n") == std::string::npos) {
      error(key, "must not be empty");
      return std::nullopt;
    }
    return text;
  }

  std::optional<std::int64_t> integer_field(const char* key, bool required) {
    const auto it = object_.find(key);
    if (it == object_.end()) {
      if (required) error(key, "is missing (expected an integer)");
      return std::nullopt;
    }
    if (!it->is_number_integer()) {
      error(key, "must be an integer, found " + describe_type(*it));
      return std::nullopt;
    }
    if (it->is_number_unsigned() &&
        it->get<std::uint64_t>() > static_cast<std::uint64_t>(INT64_MAX)) {
      error(key, "integer is out of range");
      return std::nullopt;
    }
    return it->get<std::int64_t>();
  }

  // `type` and `templ_values`: a string holding a list, as MUSIC-AVQA stores them; a real JSON
  // array of strings is accepted too.
  std::optional<std::vector<std::string>> list_field(const char* key) {
    const json* value = find(key, "a string holding a list");
    if (value == nullptr) return std::nullopt;
    if (value->is_array()) {
      std::vector<std::string> items;
      for (std::size_t i = 0; i < value->size(); ++i) {
        if (!(*value)[i].is_string()) {
          error(key, "element " + std::to_string(i) + " must be a string, found " +
                         describe_type((*value)[i]));
          return std::nullopt;
        }
        items.push_back((*value)[i].get<std::string>());
      }
      return items;
    }
    if (!value->is_string()) {
      error(key, "must be a string holding a list, found " + describe_type(*value));
      return std::nullopt;
    }
    try {
      return parse_string_list(value->get<std::string>());
    } catch (const std::invalid_argument& e) {
      error(key, e.what());
      return std::nullopt;
    }
  }

  void error(const std::string& field, const std::string& what) {
    errors_.report(index_, field, what);
    failed_ = true;
  }

  bool failed() const { return failed_; }

 private:
  const json* find(const char* key, const char* expected) {
    const auto it = object_.find(key);
    if (it == object_.end()) {
      error(key, std::string("is missing (expected ") + expected + ")");
      return nullptr;
    }
    return &*it;
  }

  const json& object_;
  std::size_t index_;
  ErrorSink& errors_;
  bool failed_ = false;
};

std::optional<AnnotationRecord> read_record(const json& value,
                                            std::size_t index,
                                            ErrorSink& errors) {
  if (!value.is_object()) {
    errors.report(index, "", "record must be a JSON object, found " + describe_type(value));
    return std::nullopt;
  }
  RecordReader reader(value, index, errors);
  AnnotationRecord record;
  record.source_index = index;

  const auto video_id = reader.string_field("video_id");
  const auto question_id = reader.integer_field("question_id", /*required=*/true);
  const auto type_pair = reader.list_field("type");
  std::optional<QuestionType> type;
  if (type_pair) {
    try {
      type = parse_question_type(*type_pair);
    } catch (const std::invalid_argument& e) {
      reader.error("type", e.what());
    }
  }
  const auto content = reader.string_field("question_content");
  const auto values = reader.list_field("templ_values");
  const auto deleted = reader.integer_field("question_deleted", /*required=*/false);

  std::optional<std::string> answer;
  const bool has_anser = value.contains("anser");
  const bool has_answer = value.contains("answer");
  if (!has_anser && !has_answer) {
    reader.error("anser", "is missing (expected the answer string; 'answer' is accepted too)");
  } else {
    answer = reader.string_field(has_anser ? "anser" : "answer");
    if (answer && has_anser && has_answer) {
      const auto other = reader.string_field("answer");
      if (other && *other != *answer) {
        reader.error("answer", "differs from 'anser' ('" + *other + "' vs '" + *answer + "')");
      }
    }
  }

  if (content && values) {
    try {
      record.words = question_words(*content, *values);
    } catch (const std::invalid_argument& e) {
      reader.error("templ_values", std::string(e.what()) + " in '" + *content + "'");
    }
  }
  if (reader.failed()) return std::nullopt;

  record.video_id = *video_id;
  record.question_id = *question_id;
  record.type = *type;
  record.question_content = *content;
  record.templ_values = *values;
  record.question_deleted = deleted.value_or(0);
  record.answer = *answer;
  return record;
}

std::vector<DuplicateQuestionId> find_duplicates(const std::vector<AnnotationRecord>& records) {
  std::map<std::int64_t, std::vector<std::size_t>> positions;  // id -> indices into `records`
  for (std::size_t i = 0; i < records.size(); ++i)
    positions[records[i].question_id].push_back(i);
  std::vector<DuplicateQuestionId> duplicates;
  for (const auto& [id, where] : positions) {
    if (where.size() < 2) continue;
    DuplicateQuestionId dup;
    dup.question_id = id;
    const AnnotationRecord& first = records[where.front()];
    for (const std::size_t i : where) {
      const AnnotationRecord& r = records[i];
      dup.records.push_back(r.source_index);
      dup.same_video_and_question &= r.video_id == first.video_id && r.words == first.words;
      dup.conflicting_answers |= r.answer != first.answer;
    }
    duplicates.push_back(std::move(dup));
  }
  std::sort(duplicates.begin(), duplicates.end(),
            [](const auto& a, const auto& b) { return a.records.front() < b.records.front(); });
  return duplicates;
}

AnnotationSet parse_with(std::string_view text,
                         const std::string& source,
                         const LoadOptions& options,
                         ErrorSink& errors) {
  json document;
  try {
    document = json::parse(text);
  } catch (const json::parse_error& e) {
    std::string what = e.what();
    // nlohmann's message starts with "[json.exception.parse_error.101] parse error at ..."
    if (const auto colon = what.find("parse error"); colon != std::string::npos)
      what = what.substr(colon);
    errors.report(std::nullopt, "",
                  "invalid JSON at " + line_and_column(text, e.byte) + ": " + what);
    return {};
  }
  if (!document.is_array()) {
    errors.report(
        std::nullopt, "",
        "an annotation file must be a JSON array of records, found " + describe_type(document));
    return {};
  }

  AnnotationSet set;
  set.source = source;
  set.records_in_file = document.size();
  set.records.reserve(document.size());
  for (std::size_t i = 0; i < document.size(); ++i) {
    if (auto record = read_record(document[i], i, errors))
      set.records.push_back(std::move(*record));
  }
  set.duplicates = find_duplicates(set.records);

  switch (options.duplicates) {
    case DuplicatePolicy::KeepAll:
      break;
    case DuplicatePolicy::Error:
      for (const DuplicateQuestionId& dup : set.duplicates) {
        std::string what = "question_id " + std::to_string(dup.question_id) +
                           " already used by record " + std::to_string(dup.records.front());
        if (dup.conflicting_answers) what += " with a different answer";
        what += "; choose a duplicate policy (keep-first, keep-last or keep-all)";
        errors.report(dup.records[1], "question_id", what);
      }
      break;
    case DuplicatePolicy::KeepFirst:
    case DuplicatePolicy::KeepLast: {
      std::vector<bool> drop(set.records_in_file, false);
      for (const DuplicateQuestionId& dup : set.duplicates) {
        for (std::size_t k = 0; k < dup.records.size(); ++k) {
          const bool keep = options.duplicates == DuplicatePolicy::KeepFirst
                                ? k == 0
                                : k + 1 == dup.records.size();
          drop[dup.records[k]] = !keep;
        }
      }
      set.records.erase(
          std::remove_if(set.records.begin(), set.records.end(),
                         [&](const AnnotationRecord& r) { return drop[r.source_index]; }),
          set.records.end());
      break;
    }
  }
  return set;
}

}  // namespace

DuplicatePolicy parse_duplicate_policy(std::string_view text) {
  if (text == "error") return DuplicatePolicy::Error;
  if (text == "keep-first") return DuplicatePolicy::KeepFirst;
  if (text == "keep-last") return DuplicatePolicy::KeepLast;
  if (text == "keep-all") return DuplicatePolicy::KeepAll;
  throw std::invalid_argument("unknown duplicate policy '" + std::string(text) +
                              "' (expected error, keep-first, keep-last or keep-all)");
}

std::string_view to_string(DuplicatePolicy policy) {
  switch (policy) {
    case DuplicatePolicy::Error:
      return "error";
    case DuplicatePolicy::KeepFirst:
      return "keep-first";
    case DuplicatePolicy::KeepLast:
      return "keep-last";
    case DuplicatePolicy::KeepAll:
      return "keep-all";
  }
  return "?";
}

AnnotationSet parse_annotations(std::string_view json_text,
                                const std::string& source,
                                const LoadOptions& options) {
  ErrorSink errors(source, nullptr, 0);
  return parse_with(json_text, source, options, errors);
}

AnnotationSet load_annotations(const std::filesystem::path& path, const LoadOptions& options) {
  return parse_annotations(read_text_file(path), path.string(), options);
}

std::vector<core::InputError> find_annotation_errors(const std::filesystem::path& path,
                                                     const LoadOptions& options,
                                                     std::size_t max_errors) {
  std::vector<core::InputError> found;
  try {
    const std::string text = read_text_file(path);
    ErrorSink errors(path.string(), &found, std::max<std::size_t>(1, max_errors));
    parse_with(text, path.string(), options, errors);
  } catch (const core::InputError& e) {
    found.push_back(e);
  } catch (const StopParsing&) {
  }
  return found;
}

std::vector<std::string> video_ids(const AnnotationSet& set) {
  std::vector<std::string> ids;
  std::set<std::string> seen;
  for (const auto& r : set.records) {
    if (seen.insert(r.video_id).second) ids.push_back(r.video_id);
  }
  return ids;
}

}  // namespace avqa::data
