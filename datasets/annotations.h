#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "core/atomic_file.h"
#include "core/input_error.h"
#include "datasets/question_type.h"

namespace avqa::data {

/// One question of a MUSIC-AVQA annotation file, validated and expanded.
struct AnnotationRecord {
  std::string video_id;          ///< "00000093" (real) or "va123" style (synthetic)
  std::int64_t question_id = 0;  ///< unique only in the json_update release
  QuestionType type = QuestionType::AudioCounting;
  std::string question_content;  ///< the template as stored, e.g. "Where is the <LL> instrument?"
  std::vector<std::string> templ_values;  ///< placeholder values in order
  std::int64_t question_deleted = 0;      ///< annotation check code; unused by every model
  std::string answer;                     ///< stored as `anser` (sic) or `answer`
  std::vector<std::string> words;         ///< question words by the original rule (question_text.h)
  std::size_t source_index = 0;           ///< 0-based record index in the file it came from
};

/// What to do when two records share a question_id. The original `json/` release has such
/// pairs (same video and question, often different answers); `json_update/` has none.
enum class DuplicatePolicy {
  Error,      ///< refuse the file, naming both records
  KeepFirst,  ///< keep the first record of each id
  KeepLast,   ///< keep the last record of each id
  KeepAll,    ///< keep every record, as the original loader does
};

/// Parses "error", "keep-first", "keep-last", "keep-all"; throws std::invalid_argument otherwise.
DuplicatePolicy parse_duplicate_policy(std::string_view text);
std::string_view to_string(DuplicatePolicy policy);

struct LoadOptions {
  DuplicatePolicy duplicates = DuplicatePolicy::Error;
};

/// One question_id that occurs in more than one record.
struct DuplicateQuestionId {
  std::int64_t question_id = 0;
  std::vector<std::size_t> records;  ///< 0-based record indices, in file order
  bool same_video_and_question = true;
  bool conflicting_answers = false;
};

/// The records of one annotation file after validation and the duplicate policy.
struct AnnotationSet {
  std::string source;                           ///< the file path (or a name for in-memory text)
  std::size_t records_in_file = 0;              ///< before the duplicate policy
  std::vector<AnnotationRecord> records;        ///< after the duplicate policy, in file order
  std::vector<DuplicateQuestionId> duplicates;  ///< found in the file, whatever the policy
};

/// The videos the records ask about, each once, in the order they first appear.
std::vector<std::string> video_ids(const AnnotationSet& set);

/// Loads and validates a MUSIC-AVQA annotation file (a JSON array of records). Throws
/// core::InputError naming the file, the record index and the field of the first problem;
/// nothing is returned half-loaded.
AnnotationSet load_annotations(const std::filesystem::path& path, const LoadOptions& options = {});

/// The same for JSON text already in memory; `source` names it in errors.
AnnotationSet parse_annotations(std::string_view json_text,
                                const std::string& source,
                                const LoadOptions& options = {});

/// Validation that keeps going: every problem in the file (up to `max_errors`), each naming file,
/// record and field. Empty when the file loads under `options`.
std::vector<core::InputError> find_annotation_errors(const std::filesystem::path& path,
                                                     const LoadOptions& options,
                                                     std::size_t max_errors);

/// Reads a whole file; throws core::InputError naming the path when it cannot be read.
using core::read_text_file;

}  // namespace avqa::data
