#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "datasets/question_type.h"

// Writing a question the way MUSIC-AVQA asks them: its 33 templates, each placeholder (<Object>,
// <LR>, <FL>, ...) filled from the values the real annotations use. Logic without widgets: the
// studio's ask box binds it, tests drive it.
namespace avqa::gui {

/// One placeholder occurrence in a template, in reading order.
struct Placeholder {
  std::string name;                 ///< e.g. "<Object>"
  std::vector<std::string> values;  ///< what may stand there
};

class QuestionComposer {
 public:
  /// The templates of datasets/synthetic with <Object> drawn from the instrument table.
  QuestionComposer();

  struct Template {
    data::QuestionType type;
    std::string text;  ///< with placeholders, worded as the real annotation files
  };
  const std::vector<Template>& templates() const { return templates_; }

  /// The placeholders of `text` in order ("<Object> ... <Object>" gives two).
  std::vector<Placeholder> placeholders(std::string_view text) const;
  /// `text` with its placeholders replaced by `values` in order; placeholders without a value
  /// stay as they are (a half-filled template still shows what is missing).
  static std::string fill(std::string_view text, const std::vector<std::string>& values);
  /// Completion candidates: every template, and each template filled with the first values of
  /// its placeholders, so that typing "violin" or "louder" finds a whole question.
  std::vector<std::string> completions() const;
  /// Completions of the word being typed (what follows the last space) from a run's
  /// vocabulary: the whole text with that word completed, at most `limit`, in the vocabulary's
  /// order, case-insensitive. Empty when the text ends in a space or nothing matches; `words`
  /// entries like "<pad>" are never offered.
  static std::vector<std::string> complete_last_word(std::string_view text,
                                                     const std::vector<std::string>& words,
                                                     std::size_t limit = 20);
  /// The values a placeholder takes in MUSIC-AVQA ("<LR>": left, right, middle), most common
  /// first; empty for an unknown name.
  const std::vector<std::string>& values_of(std::string_view placeholder) const;

 private:
  std::vector<Template> templates_;
  std::vector<std::pair<std::string, std::vector<std::string>>> values_;
};

}  // namespace avqa::gui
