#pragma once

#include <array>
#include <string>

#include "core/train/trainer.h"

// On-the-fly gradient modulation: OGM and OGM-GE (Peng et al., CVPR 2022) and the revised OGM of
// the TPAMI 2024 paper (the same step after a warm-up), as the released code computes them
// (balanced-learning.md sections 1-2):
//   rho_v = S_v / S_a (batch scores); the dominant modality m (rho > 1) gets
//   k_m = 1 - tanh(alpha * rho_m), the other k = 1. There is no "-1" inside the tanh in any OGM
//   code (only OPM has one): k jumps from 1 to 1 - tanh(alpha) as rho crosses 1.
//   Inside the modulation window every encoder gradient of a weight tensor is scaled by k_m;
//   OGM-GE adds N(0, (std(g) + 1e-8)^2) noise, with std of the unscaled gradient, to both
//   modalities (the weak one has k = 1), as the paper's Algorithm 1 does.
// Which tensors: the original touches 4-D gradients only (conv kernels; BN affine and the head
// never). Our encoders are linear layers on cached features, so the same rule reads "weight
// tensors of dimension >= 2": kernels and matrices, never biases or normalisation affines.
// The paper samples the noise from the SGD gradient covariance; the code (and this) uses
// isotropic noise scaled by the tensor's gradient std.
namespace avqa::train {

struct GradientModulationOptions {
  double alpha = 0.1;   ///< README: 0.1 VGGSound, 0.8 CREMA-D; TPAMI default 1.0
  int first_epoch = 1;  ///< modulation window, 1-based, inclusive
  int last_epoch = 50;
  bool noise = true;      ///< OGM-GE: generalisation enhancement noise
  int warmup_epochs = 0;  ///< TPAMI: no modulation while epoch <= warmup (5)
};

/// k for the two modalities from their batch scores (first, second): {k_first, k_second}.
std::array<double, 2> modulation_coefficients(double score_first,
                                              double score_second,
                                              double alpha);

class GradientModulation : public Hook {
 public:
  explicit GradientModulation(GradientModulationOptions options, std::string name = "ogm-ge")
      : options_(options), name_(std::move(name)) {}
  std::string name() const override { return name_; }
  void on_fit_start(FitContext& fit) override;
  void on_after_backward(StepContext& step) override;

  /// Whether epoch (1-based) modulates.
  bool active(int epoch) const;
  /// The coefficients of the last step (1, 1 outside the window).
  const std::array<double, 2>& last_coefficients() const { return last_; }

 private:
  GradientModulationOptions options_;
  std::string name_;
  std::array<double, 2> last_{1, 1};
};

}  // namespace avqa::train
