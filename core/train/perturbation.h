#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include <ATen/core/Tensor.h>

#include "core/train/modality_model.h"
#include "core/train/trainer.h"

// Attacks and corruptions of a batch's modality inputs: what a robustness evaluation applies
// before the model answers, and what adversarial training applies before a step. They act on
// Batch::inputs (for the AVQA tasks the cached features: audio [B, T, 128], visual
// [B, T, 512, H, W]; for a video, whatever the model's encode() reads), so they work on any
// ModalityModel. Attacks follow CRMT's rob_test.py (balanced-learning.md section 5): untargeted,
// maximising the cross-entropy of the fused logits, starting from the clean input.
namespace avqa::train {

enum class AttackNorm { L2, Linf };
AttackNorm parse_attack_norm(const std::string& name);  ///< "l2", "linf"
const char* to_string(AttackNorm norm);

struct AttackOptions {
  AttackNorm norm = AttackNorm::L2;
  std::vector<std::size_t> modalities{0};  ///< the inputs perturbed (ModalityModel order)
  double radius = 0.1;                     ///< epsilon: the bound on each sample's perturbation
  int steps = 1;                           ///< 1: FGM (one step of the whole radius); more: PGD
  double step_size = 0;                    ///< PGD's step; 0: radius / 3 (rob_test.py)
  /// One ball over the perturbed modalities together, the gradient normalised over their
  /// concatenation (rob_test.py's joint attack); false: a ball of `radius` per modality, each
  /// gradient normalised on its own (its modality-specific variant). The same for l-inf.
  bool joint = true;
  /// The radius as a fraction of each sample's clean input norm (in the attack's norm, over the
  /// perturbed modalities together when joint, each its own otherwise) instead of an absolute
  /// bound: comparable across modalities whose
  /// inputs differ in size and scale (ST-AVQA's audio [T, 128] against its maps [T, 512, 7, 7]).
  /// The step size is then a fraction too.
  bool relative = false;
};

/// `batch` with the attacked inputs replaced by x + delta, where per sample ||delta|| <= radius
/// (over the attacked modalities together when joint, each alone otherwise; times the sample's
/// ||x|| when relative), chosen to raise the
/// cross-entropy of model.fuse(model.encode(.)) against batch.labels. The model is used in the
/// mode it is in (evaluation calls set evaluation mode); the parameters' gradients are left as
/// they were. Other inputs and the context are shared with `batch`.
Batch attack(ModalityModel& model, const Batch& batch, const AttackOptions& options);

/// Per sample, the norm of `perturbed - clean` over the given modalities together: [B].
at::Tensor perturbation_norms(const Batch& clean,
                              const Batch& perturbed,
                              const std::vector<std::size_t>& modalities,
                              AttackNorm norm);

/// What a missing or degraded modality looks like.
enum class CorruptionKind {
  Zeros,           ///< the modality absent: its input replaced by zeros
  Mean,            ///< absent, filled with the training split's mean input (`mean`)
  DroppedSeconds,  ///< `amount` of the seconds (dim 1 of [B, T, ...]) zeroed, drawn per sample
  Noise,           ///< Gaussian noise at a signal-to-noise ratio of `amount` dB, per sample
};
CorruptionKind parse_corruption_kind(
    const std::string& name);  ///< "zeros", "mean", "drop", "noise"
const char* to_string(CorruptionKind kind);

struct Corruption {
  CorruptionKind kind = CorruptionKind::Zeros;
  std::size_t modality = 0;
  double amount = 0;  ///< DroppedSeconds: fraction in [0, 1]; Noise: SNR in dB
  at::Tensor mean;    ///< Mean: one sample's input shape (what a batch row holds)
};

/// `batch` with corruption `c` applied to the samples where `samples` ([B] bool) is true, all
/// when it is undefined. Random draws come from `seed` alone: the same seed corrupts alike.
Batch corrupt(const Batch& batch,
              const Corruption& c,
              std::uint64_t seed,
              const at::Tensor& samples = at::Tensor());

/// Quality varying per sample: each sample has, with probability `probability`, one modality
/// (drawn uniformly) degraded by `c` with its modality replaced; the others stay clean. [B]
/// int64 of which modality each sample lost (-1: none) in `degraded` when not null.
Batch vary_quality(const Batch& batch,
                   Corruption c,
                   std::size_t modalities,
                   double probability,
                   std::uint64_t seed,
                   at::Tensor* degraded = nullptr);

/// A batch transform an evaluation applies before the model answers.
using BatchTransform = std::function<Batch(ModalityModel&, const Batch&, std::uint64_t seed)>;

/// Per sample, whether the fused answer is right after `transform` (none: clean): [N] bool in
/// dataset order; batches of `batch` in evaluation mode, the seed of batch k is seed + k. The
/// model is left in evaluation mode.
at::Tensor correct_under(ModalityModel& model,
                         const TrainingData& data,
                         int batch,
                         const BatchTransform& transform = {},
                         std::uint64_t seed = 1);

/// Accuracy of the fused answer on every sample of `data` (batches of `batch`, evaluation mode)
/// after `transform` (none: clean); the seed of batch k is seed + k. The model is left in
/// evaluation mode.
double accuracy_under(ModalityModel& model,
                      const TrainingData& data,
                      int batch,
                      const BatchTransform& transform = {},
                      std::uint64_t seed = 1);

}  // namespace avqa::train
