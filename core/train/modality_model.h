#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include <ATen/core/Tensor.h>

// What the training core needs from a model: its modalities by name, each modality's encoder
// parameters, and a forward pass split where the balanced-learning methods act (after the
// encoders, before the fusion). Any model with audio and visual branches implements it: ST-AVQA
// (avqa/) and the late-fusion classifier (avclass/) alike.
namespace avqa::train {

/// A batch as the trainer hands it to a model.
struct Batch {
  std::vector<at::Tensor> inputs;   ///< one per modality, in ModalityModel::modalities() order
  std::vector<at::Tensor> context;  ///< what else the model reads (question words, negatives)
  at::Tensor labels;                ///< [B] int64 class or answer indices
  /// Per sample, the modality whose features are zeroed before fusion, -1 for none: the extra
  /// copies that valuation re-sampling adds. Empty: none zeroed.
  std::vector<int> zeroed;
  std::vector<std::size_t> indices;  ///< the samples of the dataset, for per-sample bookkeeping

  std::int64_t size() const { return labels.size(0); }
};

/// The encoders' output for a batch.
struct Encoded {
  std::vector<at::Tensor> features;  ///< per modality [B, d_m]: what the fusion sees
  /// Whatever else the fusion or the loss reads, model-specific (ST-AVQA: the question
  /// embedding and the audio-visual match logits).
  std::vector<at::Tensor> state;
};

class ModalityModel {
 public:
  virtual ~ModalityModel() = default;

  /// "audio", "visual", ...: their order indexes inputs, features and encoder groups.
  virtual std::vector<std::string> modalities() const = 0;
  /// Every trainable parameter (what the optimiser steps).
  virtual std::vector<at::Tensor> parameters() = 0;
  /// The parameters of modality m's encoder: the branch a balance method modulates, re-initialises
  /// or reads features from. Groups are disjoint; the fusion and head belong to none.
  virtual std::vector<at::Tensor> encoder_parameters(std::size_t m) = 0;
  /// Training (dropout on) or evaluation mode.
  virtual void set_training(bool training) = 0;

  virtual Encoded encode(const Batch& batch) = 0;
  /// Fused logits [B, C] from (possibly modified) encoder features.
  virtual at::Tensor fuse(const Encoded& encoded) = 0;
  /// Modality m's own logits [B, C]. The default fuses with every other modality's features
  /// zeroed; a linear concatenation head overrides it with the original code's split head.
  virtual at::Tensor unimodal_logits(const Encoded& encoded, std::size_t m);
  /// The training loss of one batch: cross-entropy by default; a model adds its own terms
  /// (ST-AVQA: the audio-visual match loss). `logits` [B', C] and `labels` [B'] may hold fewer
  /// rows than `encoded` where a method dropped samples.
  virtual at::Tensor loss(const at::Tensor& logits,
                          const at::Tensor& labels,
                          const Encoded& encoded,
                          const Batch& batch);

  /// Weights only (the optimiser is the trainer's), atomically.
  virtual void save(const std::filesystem::path& file) = 0;
  virtual void load(const std::filesystem::path& file) = 0;
};

/// `encoded` with modality m's features replaced by zeros (the other features shared).
Encoded with_zeroed(const Encoded& encoded, std::size_t m);
/// `encoded` with every modality but m zeroed.
Encoded with_only(const Encoded& encoded, std::size_t m);

/// Split-head uni-modal logits of a linear head over concatenated features, as the OGM-GE / OPM
/// code computes them: s_m = z_m W[:, block_m]^T + b / M. `weight` [C, sum d_m], `bias` [C].
at::Tensor split_head_logits(const Encoded& encoded,
                             std::size_t m,
                             const at::Tensor& weight,
                             const at::Tensor& bias);

}  // namespace avqa::train
