#pragma once

#include <string>
#include <utility>
#include <vector>

#include <ATen/core/Tensor.h>

#include "core/train/trainer.h"

// MMPareto (Wei & Hu, ICML 2024) as the released code computes it (balanced-learning.md
// section 4): losses L_mm + sum_m L_m; per modality m, the gradients of L_mm and of L_m on m's
// encoder, g_mm and g_u; their cosine decides the weights: (0.5, 0.5) when positive, else the
// two-task min-norm solution; per encoder tensor the new gradient 2 (w_mm g_mm + w_u g_u) is
// raised to at least the plain sum's norm and multiplied by 1.5 ("enhanced magnitude", also
// without conflict). Heads keep the plain sum of all losses' gradients.
// Difference: the original trains separate uni-modal heads; here L_m is the cross-entropy of the
// model's own uni-modal logits (the split head of a concatenation, as BalanceMM does; for
// ST-AVQA the answer with the other half zeroed), so the uni-modal losses also reach the fusion
// head. Cost: one forward and 1 + 2M gradient passes per step.
namespace avqa::train {

struct ParetoGradientOptions {
  double scale = 1.5;  ///< hard-coded in the original
};

/// The two-task min-norm weight gamma of g_mm (1 - gamma for g_u): the minimiser of
/// |gamma g_mm + (1 - gamma) g_u|, with the original's clamps 0.999 / 0.001.
double min_norm_weight(double mm_mm, double mm_u, double u_u);

/// Weights (w_mm, w_u) for two flattened gradients: (0.5, 0.5) when their cosine is positive.
std::pair<double, double> pareto_weights(const at::Tensor& g_mm, const at::Tensor& g_u);

class ParetoGradients : public Hook {
 public:
  explicit ParetoGradients(ParetoGradientOptions options) : options_(options) {}
  std::string name() const override { return "mmpareto"; }
  void on_loss(StepContext& step) override;
  bool on_backward(StepContext& step) override;

  /// Per modality, the cosine and the weights of the last step.
  const std::vector<double>& last_cosines() const { return cosines_; }

 private:
  ParetoGradientOptions options_;
  std::vector<double> cosines_;
};

}  // namespace avqa::train
