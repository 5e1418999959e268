#pragma once

#include <array>
#include <string>

#include "core/train/trainer.h"

// OPM, on-the-fly prediction modulation (TPAMI 2024), as the released code computes it
// (balanced-learning.md section 2), between the encoders and the fusion, in training only:
//   r_m = tanh(relu(P_m / P_other - 1)) from the batch scores; the dominant modality gets the drop
//   probability q_m = min(1, q_base (1 + lambda r_m)), the other none; with probability p_exe per
//   step a drop is executed: per sample, modality m's whole feature vector is zeroed with
//   probability q_m; every feature is then scaled by 1 / (1 - theta), theta = sum_m d_m q_m /
//   sum_m d_m (a constant factor, so its gradient is scaled alike, as the code's custom autograd
//   function does); samples with every modality dropped leave the step. Nothing acts while
//   epoch <= warm-up.
namespace avqa::train {

struct ModalityDropoutOptions {
  double q_base = 0.5;  ///< argparse default (config.py: 0.4, BalanceMM 0.4)
  double lambda = 0.5;
  double p_exe = 0.7;
  int warmup_epochs = 5;
};

/// Drop probabilities of the two modalities from their batch scores.
std::array<double, 2> drop_probabilities(double score_first,
                                         double score_second,
                                         const ModalityDropoutOptions& options);

class ModalityDropout : public Hook {
 public:
  explicit ModalityDropout(ModalityDropoutOptions options) : options_(options) {}
  std::string name() const override { return "opm"; }
  void on_fit_start(FitContext& fit) override;
  void on_features(StepContext& step) override;

  const std::array<double, 2>& last_probabilities() const { return last_; }

 private:
  ModalityDropoutOptions options_;
  std::array<double, 2> last_{0, 0};
};

}  // namespace avqa::train
