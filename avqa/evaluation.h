#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "avqa/qa_dataset.h"
#include "avqa/st_avqa_net.h"
#include "datasets/annotations.h"
#include "datasets/type_accuracy.h"
#include "datasets/vocabulary.h"

namespace avqa::net {

struct RunConfig;

/// Predictions of a trained model.
struct Evaluation {
  data::TypeAccuracy accuracy;
  std::vector<std::int64_t> predicted;                            ///< answer index per question
  std::vector<std::vector<std::pair<std::int64_t, float>>> top5;  ///< answer index, probability
  std::vector<at::Tensor> spatial_attention;                      ///< per question [T, H*W]
  std::vector<at::Tensor> temporal_visual;                        ///< per question [T]
};

/// How well the model looked where and when the sound was, against a generated dataset's truth.
struct GroundingScores {
  double pointing_accuracy =
      0;  ///< share of segments whose attention peak lies in the box of an instrument sounding then
  std::size_t pointing_segments =
      0;  ///< segments scored (those with a visible instrument sounding)
  double temporal_mass =
      0;  ///< mean share of visual temporal attention on seconds where a visible instrument sounds
  std::size_t temporal_questions = 0;
  double pointing_chance =
      0;  ///< the same for a uniformly random peak: the boxes' share of the frame
  /// the same segments: share whose peak lies in any visible instrument's box, sounding or not
  /// (finding instruments at all, against finding the one that plays)
  double pointing_any_instrument = 0;
  double temporal_chance = 0;  ///< the same for uniform attention: the share of sounding seconds
  /// Per question: the share of its scored segments whose peak lies on a sounding instrument;
  /// negative for a question whose video has no scored segment.
  std::vector<double> question_pointing;
};

/// One question template's accuracy and, on generated data, how it moves with where the model
/// looked: questions whose attention peak hit a sounding instrument in at least half of their
/// scored segments against the others (questions of videos with no scored segment in neither).
struct TemplateScore {
  std::string question;  ///< the template as stored, e.g. "Where is the <FL> sounding instrument?"
  data::QuestionType type = data::QuestionType::AudioCounting;
  std::size_t questions = 0, correct = 0;
  std::size_t pointed = 0, pointed_correct = 0;
  std::size_t missed = 0, missed_correct = 0;
};

/// Questions whose answer depends on where something is in the frame: the ones whose accuracy
/// the spatial grounding should move (V-Loc, AV-Loc, AV-Temp).
bool needs_grounding(data::QuestionType type);

/// Per template of `set` (in order of first appearance); `grounding` may be null (no truth).
/// `data` holds the questions of `set` in its order (as evaluate_run builds it).
std::vector<TemplateScore> template_scores(const Evaluation& evaluation,
                                           const QaDataset& data,
                                           const data::AnnotationSet& set,
                                           const GroundingScores* grounding);

/// Scores `evaluation` of `data` against <truth>/<video_id>.json files (written by `avqa
/// generate`). `segment_seconds[k]` is the second model segment k shows; `frame_size` the frame
/// the attention grid covers.
GroundingScores grounding_scores(const Evaluation& evaluation,
                                 const QaDataset& data,
                                 const std::filesystem::path& truth,
                                 const std::vector<int>& segment_seconds,
                                 int frame_size);

Evaluation evaluate(StAvqaNet& model, const QaDataset& data, int batch, bool question_only = false);

/// `avqa eval` (and the studio): a run folder on an annotation file.
struct EvalOptions {
  std::filesystem::path run;
  std::filesystem::path annotations;
  std::filesystem::path cache;  ///< default: the run's training cache
  /// A generated dataset's truth/ folder for grounding scores; default: the truth/ beside the
  /// annotations' folder, when there is one.
  std::filesystem::path truth;
  int batch = 64;
  data::DuplicatePolicy duplicates = data::DuplicatePolicy::Error;
};

/// The feature cache an evaluation of `run` reads: `cache` when given, else the one the run
/// trained on; null for a question-only run. A missing cache names config.json's "cache" field.
std::shared_ptr<const features::FeatureCacheReader> open_evaluation_cache(
    const std::filesystem::path& run, const RunConfig& config, const std::filesystem::path& cache);

/// One question's answer, for prediction files.
struct QuestionPrediction {
  std::int64_t question_id = 0;
  std::string video_id;
  std::string predicted;
  std::string answer;                               ///< the annotation's
  std::vector<std::pair<std::string, float>> top5;  ///< answer, probability
};

struct EvalReport {
  std::filesystem::path annotations;
  std::size_t questions = 0;
  data::TypeAccuracy accuracy;
  std::optional<GroundingScores> grounding;  ///< on generated data, for runs that look
  std::filesystem::path truth;               ///< where the grounding truth came from
  bool truth_supervised = false;  ///< the run's attention was trained on the truth (diagnostic)
  std::vector<TemplateScore> templates;
  std::vector<QuestionPrediction> predictions;
};

/// Loads the run, its vocabularies and the features (a question-only run needs none), answers
/// every question and scores it. Throws core::InputError naming the file and key for a broken
/// run folder, an annotation error or a cache that lacks a question's video.
EvalReport evaluate_run(const EvalOptions& options);

/// {"overall": ..., per type ..., "grounding": {...}} as `avqa eval --json` prints it.
/// With `per_template`, also "templates": [{"question", "type", "questions", "accuracy",
/// "pointed", "pointed_accuracy", "missed", "missed_accuracy"}].
std::string eval_report_json(const EvalReport& report, bool per_template = false);
/// The per-type table and the grounding lines, as `avqa eval` prints them.
std::string format_eval_report(const EvalReport& report);
/// The per-template table (`avqa eval --per-template`).
std::string format_template_scores(const std::vector<TemplateScore>& templates);
/// [{"question_id", "video_id", "predicted", "answer", "top5": [{"answer", "probability"}]}].
std::string predictions_json(const EvalReport& report);

}  // namespace avqa::net
