#pragma once

#include <string>
#include <vector>

#include <ATen/core/Tensor.h>

#include "core/train/trainer.h"

// Sample-level and modality-level valuation with re-sampling (Wei et al., CVPR 2024), as the
// released code computes it (balanced-learning.md section 6). Before each epoch from the warm-up
// on, the whole training split is valued in evaluation mode: v(empty) = 0, v({m}) = 1 when the
// uni-modal prediction is right, v({a, v}) = 2 (the number of modalities, as the code has it)
// when the fused one is; Shapley phi_a = (v_a + v_av - v_v) / 2. Then
//  - sample level: every sample gets 1, 2 or 3 extra copies per low-phi modality (phi in
//    (0.4, 1), (-0.1, 0.4), below -0.1), in which the *other* modality is zeroed before fusion;
//  - modality level: mean phi over a random 20 % (with replacement), gap_m = 1 - mean phi_m,
//    d = |gap_a - gap_v| (2/3) alpha, and int(d N) random samples get one copy with the better
//    modality zeroed.
namespace avqa::train {

enum class ValuationLevel { Sample, Modality };

struct ValuationOptions {
  ValuationLevel level = ValuationLevel::Sample;
  int warmup_epochs = 5;    ///< first valued epoch (1-based): the original's warm-up - 1, 0-based
  double part_ratio = 0.2;  ///< modality level: share of the samples valued
  double alpha = 1;         ///< modality level: strength
};

/// Per-sample Shapley values [N, 2] from correctness [N] of the fused and each uni-modal answer,
/// with the original's worths (fused 2, uni-modal 1).
at::Tensor valuation_shapley(const at::Tensor& fused_correct,
                             const at::Tensor& first_correct,
                             const at::Tensor& second_correct);

/// Extra copies for a sample whose modality has Shapley value phi.
int extra_copies(double phi);

class Valuation : public Hook {
 public:
  explicit Valuation(ValuationOptions options) : options_(options) {}
  std::string name() const override {
    return options_.level == ValuationLevel::Sample ? "valuation-sample" : "valuation-modality";
  }
  void on_fit_start(FitContext& fit) override;
  void on_epoch_start(FitContext& fit, std::vector<PlannedSample>& plan) override;

  /// Mean Shapley value per modality at the last valuation.
  const std::vector<double>& last_means() const { return means_; }

 private:
  ValuationOptions options_;
  std::vector<double> means_;
};

}  // namespace avqa::train
