#include "core/train/gradient_modulation.h"

#include <cmath>
#include <limits>
#include <stdexcept>

#include <torch/torch.h>

namespace avqa::train {

std::array<double, 2> modulation_coefficients(double score_first,
                                              double score_second,
                                              double alpha) {
  // The code divides S_v by S_a: a batch where the first modality scores 0 has no ratio; then
  // the second modality dominates without bound and its coefficient is the floor 1 - tanh(inf).
  const double ratio_second =
      score_first > 0 ? score_second / score_first : std::numeric_limits<double>::infinity();
  if (ratio_second > 1) return {1.0, 1.0 - std::tanh(alpha * ratio_second)};
  const double ratio_first =
      score_second > 0 ? score_first / score_second : std::numeric_limits<double>::infinity();
  return {1.0 - std::tanh(alpha * ratio_first), 1.0};
}

bool GradientModulation::active(int epoch) const {
  return epoch > options_.warmup_epochs && epoch >= options_.first_epoch &&
         epoch <= options_.last_epoch;
}

void GradientModulation::on_fit_start(FitContext& fit) {
  if (fit.encoder_groups.size() != 2)
    throw std::invalid_argument(name_ + " needs a model with exactly two modalities");
}

void GradientModulation::on_after_backward(StepContext& step) {
  last_ = {1, 1};
  if (!active(step.fit.epoch)) return;
  last_ = modulation_coefficients(step.score(0), step.score(1), options_.alpha);
  const torch::NoGradGuard no_grad;
  for (std::size_t m = 0; m < 2; ++m) {
    for (const auto& p : step.fit.encoder_groups[m]) {
      auto g = p.grad();
      if (!g.defined() || p.dim() < 2) continue;
      if (options_.noise) {
        const double sd = g.std().item<double>() + 1e-8;
        g.copy_(g * last_[m] + torch::randn_like(g) * sd);
      } else {
        g.mul_(last_[m]);
      }
    }
  }
}

}  // namespace avqa::train
