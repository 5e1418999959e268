#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <vector>

#include <ATen/core/Tensor.h>

#include "core/train/modality_model.h"

// How much each modality does in a trained model: uni-modal accuracy, linear probes on frozen
// encoder features, Shapley contributions, accuracy and macro-F1 from a confusion matrix.
namespace avqa::train {

class TrainingData;

/// Encoder features and labels gathered batch by batch (detached, on the CPU).
class FeatureBank {
 public:
  explicit FeatureBank(std::size_t modalities) : features_(modalities) {}
  void add(const Encoded& encoded, const at::Tensor& labels);
  /// [N, d_m] of modality m and [N] labels; undefined when nothing was added.
  at::Tensor features(std::size_t m) const;
  at::Tensor labels() const;

 private:
  std::vector<std::vector<at::Tensor>> features_;
  std::vector<at::Tensor> labels_;
};

/// Accuracy and macro-F1 of predictions [N] against labels [N] over `classes` classes; macro-F1
/// averages over the classes that occur in labels or predictions (sklearn's convention).
struct ClassificationScores {
  double accuracy = 0;
  double macro_f1 = 0;
};
ClassificationScores classification_scores(const at::Tensor& predictions,
                                           const at::Tensor& labels,
                                           std::int64_t classes);

/// Per-sample Shapley values of each modality for a game whose value is 1 when the prediction
/// from a coalition's features (others zeroed; the empty coalition is worth 0) is correct.
/// `correct[s]` [N] for every coalition bit mask s in 1 .. 2^M - 1 (bit m: modality m present).
/// Returns [N, M]; each row sums to correct[2^M - 1].
at::Tensor shapley_values(const std::vector<at::Tensor>& correct, std::size_t modalities);

/// Every sample of `data` in order, in batches of `batch` (evaluation batches: no training
/// draws); `visit` sees each batch and its index k.
void for_each_batch(const TrainingData& data,
                    int batch,
                    const std::function<void(Batch, std::size_t k)>& visit);

/// Every sample of `data` in order, in batches of `batch`, through the encoders in evaluation mode
/// without gradients; `visit` sees each batch and its encoding. The model is left in training
/// mode (every caller runs between training steps).
void for_each_encoded_batch(ModalityModel& model,
                            const TrainingData& data,
                            int batch,
                            const std::function<void(const Batch&, const Encoded&)>& visit);

/// One pass over a split in evaluation mode.
struct Validation {
  double accuracy = 0;
  ClassificationScores fused;
  std::vector<double> unimodal_accuracy;  ///< per modality (with diagnostics)
  std::vector<double> contribution;       ///< mean Shapley value per modality (with diagnostics)
  FeatureBank features{0};                ///< encoder features of the split (with diagnostics)
  at::Tensor predictions;                 ///< [N] fused predictions, in dataset order
  at::Tensor labels;                      ///< [N] the labels, in dataset order
};
Validation validate(ModalityModel& model, const TrainingData& data, int batch, bool diagnostics);

/// Accuracy on `test` of a multinomial logistic regression fitted (full batch, 100 Adam steps
/// from `seed`, on at most 2,048 evenly spaced rows) on `train`'s modality-m features, both
/// standardised by train's statistics: how much class information the encoder's features carry
/// linearly.
double probe_accuracy(const FeatureBank& train,
                      const FeatureBank& test,
                      std::size_t m,
                      std::uint64_t seed);

}  // namespace avqa::train
