#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include <ATen/core/Tensor.h>

#include "avclass/class_labels.h"
#include "avclass/late_fusion.h"
#include "core/train/diagnostics.h"
#include "core/train/robust_evaluation.h"
#include "core/train/trainer.h"

namespace avqa::features {
class FeatureCacheReader;
}
namespace avqa::net {
struct TrainOptions;
}

// Audio-visual classification on cached features as a task of the training core:
// `avqa train --task classify` and `avqa eval` on its runs.
namespace avqa::avclass {

/// How a segment's visual map [C, H, W] becomes one vector. The mean over the cells is the usual
/// global pooling; an instrument that covers a few of the 7x7 cells is diluted in it, which the
/// max keeps; mean-max concatenates both ([2C]).
enum class VisualPooling { Mean, Max, MeanMax };
VisualPooling parse_visual_pooling(const std::string& name);  ///< "mean", "max", "mean-max"
const char* to_string(VisualPooling pooling);

/// Labelled videos with their features, read once from a cache: audio [N, T, A] and the visual
/// maps pooled to [N, T, C] (mean, max) or [N, T, 2C] (mean-max).
class ClassificationData : public train::TrainingData {
 public:
  /// Every video must be extracted in `cache`; an error names `label_file`, the record and the
  /// video id. `segments`: how many of the cache's segments, spread evenly.
  ClassificationData(const std::vector<LabelledVideo>& videos,
                     const std::vector<std::string>& classes,
                     const features::FeatureCacheReader& cache,
                     const std::filesystem::path& label_file,
                     int segments,
                     VisualPooling pooling);
  std::size_t size() const override { return static_cast<std::size_t>(labels_.size(0)); }
  train::Batch load(const std::vector<std::size_t>& indices,
                    bool training,
                    std::uint64_t seed) const override;
  std::int64_t audio_dim() const { return audio_.size(2); }
  std::int64_t visual_dim() const { return visual_.size(2); }

 private:
  at::Tensor audio_, visual_, labels_;
};

/// <run>/config.json of a classification run.
struct ClassifierRunConfig {
  LateFusionOptions widths;
  int segments = 10;
  VisualPooling visual_pooling = VisualPooling::Mean;  ///< runs written before the option: mean
  std::vector<std::string> classes;
  std::filesystem::path cache;  ///< the training cache (relative to the run when written)
};
bool is_classification_run(const std::filesystem::path& run);
ClassifierRunConfig load_classifier_config(const std::filesystem::path& run);

/// Trains a late-fusion classifier as `options` say (task "classify": train/val are label files,
/// fusion and classifier_width choose the model, balance the method); writes run.json,
/// config.json, checkpoints and metrics.jsonl into options.out.
train::FitReport train_classifier(const net::TrainOptions& options);

struct ClassificationEvaluation {
  std::size_t videos = 0;
  train::ClassificationScores fused;      ///< accuracy and macro-F1
  std::vector<std::string> modalities;    ///< "audio", "visual"
  std::vector<double> unimodal_accuracy;  ///< per modality
  std::vector<double> contribution;       ///< mean Shapley value per modality
  std::vector<std::string> predictions;   ///< per video, in file order
};

/// A classification run on a label file; `cache` defaults to the run's training cache.
ClassificationEvaluation evaluate_classifier(const std::filesystem::path& run,
                                             const std::filesystem::path& labels,
                                             const std::filesystem::path& cache = {},
                                             const LabelFileOptions& label_options = {});

/// `avqa robust-eval` on a classification run: the core's attacks and corruptions
/// (core/train/robust_evaluation.h) on the pooled features, audio [T, A] and visual [T, C].
train::RobustReport robust_evaluate_classifier(
    const std::filesystem::path& run,
    const std::filesystem::path& labels,
    const std::filesystem::path& cache,
    const train::RobustEvalOptions& options,
    const std::function<void(const std::string&)>& progress = {},
    const LabelFileOptions& label_options = {});

/// `avqa eval` on a classification run: accuracy, macro-F1, each modality alone and its
/// contribution, as text or JSON.
std::string format_classification_report(const ClassificationEvaluation& evaluation);
std::string classification_report_json(const ClassificationEvaluation& evaluation);

}  // namespace avqa::avclass
