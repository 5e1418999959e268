#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "datasets/question_type.h"
#include "datasets/synthetic/truth.h"

namespace avqa::synthetic {

/// A MUSIC-AVQA question template, worded exactly as in the real annotation files.
struct QuestionTemplate {
  int id = 0;  ///< stable index, 0..32
  data::QuestionType type;
  std::string_view text;
  /// Empty when the synthetic world can answer it; else why it is never asked.
  std::string_view unsupported_reason;
};

/// All 33 templates of MUSIC-AVQA, grouped by type in the paper's order.
const std::vector<QuestionTemplate>& question_templates();

/// Decision margins: a question whose answer hinges on a smaller difference is not asked.
struct AnswerMargins {
  double loudness_db = 3.0;       ///< louder / loudest / quietest
  double onset_rate = 0.5;        ///< more rhythmic: onsets per sounding second...
  double onset_ratio = 1.5;       ///< ...and ratio of the two rates
  double duration_seconds = 1.0;  ///< playing longer
  double overlap_seconds = 1.0;   ///< "at the same time as": best overlap beats the next by this
  double entry_seconds = 0.5;     ///< first / last / n-th to come in: entries this far apart
  double together_seconds = 0.1;  ///< "simultaneously": entries closer than this
  double location_fraction =
      1.0 / 12;  ///< leftest / left of: centres this share of the width apart
};

/// One way to ask a template about a scene: the placeholder values and the answer.
struct QuestionCandidate {
  std::vector<std::string> values;
  std::string answer;
};

/// Every well-defined instantiation of `tmpl` for the scene, answers computed from the measured
/// truth (who sounds when, how loud, how rhythmic; where things stand). Empty when the template
/// does not apply (e.g. "What kind of musical instrument is it?" with two instruments).
/// `other_classes` are classes absent from the scene, offered as "no"/"zero" candidates.
std::vector<QuestionCandidate> question_candidates(const QuestionTemplate& tmpl,
                                                   const SceneTruth& truth,
                                                   const std::vector<std::string>& other_classes,
                                                   const AnswerMargins& margins = {});

/// "zero" ... "ten", then "more than ten": MUSIC-AVQA's count answers.
std::string count_answer(std::size_t count);

}  // namespace avqa::synthetic
