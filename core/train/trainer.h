#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <ATen/core/Tensor.h>
#include <nlohmann/json_fwd.hpp>

#include "core/train/epoch_metrics.h"
#include "core/train/modality_model.h"

namespace torch::optim {
class Optimizer;
}

// The model-agnostic training loop: epochs of shuffled batches, an optimiser with a step
// schedule, validation, diagnostics per modality, checkpoints that resume exactly, and hook points
// where the balanced-learning methods act. ST-AVQA (avqa/) and the classifier (avclass/) are tasks
// on it: they bring a ModalityModel and TrainingData.
namespace avqa::train {

/// A dataset as the trainer reads it.
class TrainingData {
 public:
  virtual ~TrainingData() = default;
  virtual std::size_t size() const = 0;
  /// The samples `indices`; `training`: with what only training draws (the negatives of
  /// ST-AVQA), from `seed`.
  virtual Batch load(const std::vector<std::size_t>& indices,
                     bool training,
                     std::uint64_t seed) const = 0;
};

enum class OptimizerKind { Adam, AdamW, Sgd };
OptimizerKind parse_optimizer_kind(const std::string& name);  ///< "adam", "adamw", "sgd"
const char* to_string(OptimizerKind kind);

struct TrainerOptions {
  std::filesystem::path out;  ///< run folder: checkpoints, metrics.jsonl, state.json
  int epochs = 30;
  int batch = 64;
  OptimizerKind optimizer = OptimizerKind::Adam;
  double learning_rate = 1e-4;
  double momentum = 0.9;    ///< SGD only
  double weight_decay = 0;  ///< every optimiser
  int lr_step = 8;          ///< StepLR: lr x lr_gamma every lr_step epochs
  double lr_gamma = 0.1;
  std::uint64_t seed = 1;
  bool resume = false;
  bool progress = true;
  /// Uni-modal accuracy, linear probes and Shapley contributions on the validation split each
  /// epoch (one extra pass over the validation split; the probes train on the features the
  /// epoch's training batches produced).
  bool diagnostics = true;
};

/// One sample of an epoch's plan: the dataset index and the modality zeroed in this copy.
struct PlannedSample {
  std::size_t index = 0;
  int zeroed = -1;  ///< -1: none
};

class Hook;

/// What hooks see of the whole run.
struct FitContext {
  ModalityModel& model;
  torch::optim::Optimizer& optimizer;
  const TrainerOptions& options;
  const TrainingData& train_data;
  const TrainingData& val_data;
  /// Per modality, its encoder parameters (ModalityModel::encoder_parameters).
  const std::vector<std::vector<at::Tensor>>& encoder_groups;
  int epoch = 0;         ///< the current epoch, 1-based (0 before the first)
  bool resumed = false;  ///< on_fit_start of a resumed run
};

/// What hooks see of one training step. A hook may change the batch (on_batch), the features
/// and the kept samples (on_features), the losses (on_loss) and the gradients
/// (on_backward, on_after_backward).
struct StepContext {
  StepContext(FitContext& fit_context, std::size_t step_index, Batch step_batch)
      : fit(fit_context), step(step_index), batch(std::move(step_batch)) {}

  FitContext& fit;
  std::size_t step = 0;  ///< 0-based within the epoch
  Batch batch;
  Encoded encoded;
  /// Rows of the batch that reach the loss; undefined: all (OPM drops samples with every modality
  /// dropped).
  at::Tensor keep;
  at::Tensor logits;  ///< fused [B', C], after on_features
  at::Tensor labels;  ///< [B]: the batch's; after on_features, [B'] matching logits
  /// Named loss terms; their sum is what the default backward differentiates.
  std::vector<std::pair<std::string, at::Tensor>> losses;

  /// Modality m's uni-modal logits on the kept rows, computed once per step (detached: they
  /// measure, they do not train, unless a hook adds them to the losses itself).
  const at::Tensor& unimodal(std::size_t m, bool with_graph = false);
  /// S_m = sum over the kept samples of softmax(unimodal logits)[label]: OGM's batch score.
  double score(std::size_t m);
  /// Drops the uni-modal logits computed so far (the trainer calls it after on_features, which
  /// may change the features).
  void forget_unimodal();

 private:
  std::vector<at::Tensor> unimodal_;
  std::vector<at::Tensor> unimodal_graph_;
};

/// Zeroes, per sample, the modality `batch.zeroed` names (valuation's extra copies) in what the
/// model encoded from it; the trainer calls it after encode, and so does a hook that encodes a
/// batch of its own.
void apply_zeroed(const Batch& batch, Encoded& encoded);

/// A hook point of the training loop. Calls, in order: on_fit_start; per epoch on_epoch_start,
/// per batch on_batch, (model encodes) on_features, (model fuses) on_loss, on_backward (true:
/// the hook wrote the gradients; false: the trainer backpropagates the sum of the losses),
/// on_after_backward, (optimiser step); on_epoch_end (before validation).
class Hook {
 public:
  virtual ~Hook() = default;
  virtual std::string name() const = 0;
  virtual void on_fit_start(FitContext&) {}
  /// `plan`: every sample once; a hook may add copies (the trainer shuffles afterwards).
  virtual void on_epoch_start(FitContext&, std::vector<PlannedSample>& /*plan*/) {}
  virtual void on_batch(StepContext&) {}
  virtual void on_features(StepContext&) {}
  virtual void on_loss(StepContext&) {}
  virtual bool on_backward(StepContext&) { return false; }
  virtual void on_after_backward(StepContext&) {}
  virtual void on_epoch_end(FitContext&) {}
  /// What the hook must keep across a resume (written into state.json after each epoch).
  virtual nlohmann::json state() const;
  virtual void restore(const nlohmann::json& state);
};

struct FitReport {
  std::vector<EpochMetrics> epochs;  ///< all epochs of the run, resumed ones included
  double best_val_accuracy = 0;
  int best_epoch = 0;
  std::filesystem::path best_model;
};

/// Trains `model` on `train_data`, validating on `val_data` after each epoch. Keeps in
/// options.out: epoch-<k>.pt and .optim of the last epoch, best.pt (ties go to the later
/// epoch), metrics.jsonl and state.json (written last, atomically: a run killed at any moment
/// resumes from its last complete epoch with the same data order and randomness). Everything
/// random in an epoch derives from (seed, epoch). A NaN or infinite loss stops with an error.
/// The caller seeds torch before building the model (initial weights are the caller's).
FitReport fit(ModalityModel& model,
              const TrainingData& train_data,
              const TrainingData& val_data,
              const TrainerOptions& options,
              const std::vector<std::shared_ptr<Hook>>& hooks = {});

}  // namespace avqa::train
