#pragma once

#include <cstddef>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "datasets/question_type.h"

// The studio's dataset browser without a window: annotation records beside a prediction file
// from `avqa eval --predictions`, filtered, with the accuracy of what the filter keeps.
namespace avqa::gui {

struct QuestionRow {
  std::size_t record = 0;  ///< index in the annotation file
  std::string video_id;
  std::int64_t question_id = 0;
  data::QuestionType type = data::QuestionType::AudioCounting;
  std::string question;  ///< placeholders filled in
  std::string question_template;
  std::vector<std::string> values;
  std::string truth;
  std::optional<std::string> predicted;  ///< absent without a prediction for this question
  bool correct() const { return predicted && *predicted == truth; }
};

enum class Correctness { Any, Correct, Wrong, Unpredicted };

struct QuestionFilter {
  std::optional<data::QuestionType> type;
  std::optional<data::Modality> group;  ///< Audio, Visual or Audio-Visual questions
  Correctness correctness = Correctness::Any;
  std::string text;  ///< case-insensitive, in the question, the truth, the prediction or the video
};

struct Accuracy {
  std::size_t correct = 0;
  std::size_t predicted = 0;  ///< rows with a prediction
  double value() const { return predicted > 0 ? static_cast<double>(correct) / predicted : 0.0; }
};

class QuestionTable {
 public:
  /// Reads an annotation file (either release's layout). Throws core::InputError naming the file.
  explicit QuestionTable(const std::filesystem::path& annotations);

  /// Pairs a predictions file (`avqa eval --predictions`) with the rows by question_id (video_id
  /// too, where ids repeat). Returns how many rows got a prediction. Throws core::InputError
  /// naming the file, record and field of a malformed entry.
  std::size_t attach_predictions(const std::filesystem::path& predictions);

  const std::vector<QuestionRow>& rows() const { return rows_; }
  const std::filesystem::path& annotations() const { return annotations_; }
  /// The folder of the dataset's videos: <dataset>/videos beside annotations/, where present.
  std::optional<std::filesystem::path> video_file(const QuestionRow& row) const;

  /// Indices of the rows `filter` keeps, in file order.
  std::vector<std::size_t> filtered(const QuestionFilter& filter) const;
  /// Accuracy per question type over `rows` (indices), and over all of them.
  std::map<data::QuestionType, Accuracy> accuracy_by_type(
      const std::vector<std::size_t>& rows) const;
  Accuracy accuracy(const std::vector<std::size_t>& rows) const;

 private:
  std::filesystem::path annotations_;
  std::vector<QuestionRow> rows_;
};

}  // namespace avqa::gui
