#include "core/train/pareto_gradients.h"

#include <torch/torch.h>

namespace avqa::train {

double min_norm_weight(double mm_mm, double mm_u, double u_u) {
  if (mm_u >= mm_mm) return 0.999;
  if (mm_u >= u_u) return 0.001;
  return (u_u - mm_u) / (mm_mm + u_u - 2 * mm_u);
}

std::pair<double, double> pareto_weights(const at::Tensor& g_mm, const at::Tensor& g_u) {
  const double mm_mm = g_mm.dot(g_mm).item<double>();
  const double u_u = g_u.dot(g_u).item<double>();
  const double mm_u = g_mm.dot(g_u).item<double>();
  const double norms = std::sqrt(mm_mm * u_u);
  const double cosine = norms > 0 ? mm_u / norms : 0;
  if (cosine > 0) return {0.5, 0.5};
  const double gamma = min_norm_weight(mm_mm, mm_u, u_u);
  return {gamma, 1 - gamma};
}

void ParetoGradients::on_loss(StepContext& step) {
  for (std::size_t m = 0; m < step.fit.encoder_groups.size(); ++m) {
    step.losses.emplace_back("unimodal-" + std::to_string(m),
                             torch::cross_entropy_loss(step.unimodal(m, true), step.labels));
  }
}

bool ParetoGradients::on_backward(StepContext& step) {
  const auto& groups = step.fit.encoder_groups;
  const at::Tensor& multimodal = step.losses.front().second;
  const auto flat = [](const std::vector<at::Tensor>& grads,
                       const std::vector<at::Tensor>& params) {
    std::vector<at::Tensor> parts;
    for (std::size_t i = 0; i < grads.size(); ++i)
      parts.push_back(grads[i].defined() ? grads[i].reshape(-1)
                                         : torch::zeros({params[i].numel()}));
    return torch::cat(parts);
  };
  struct Parts {
    std::vector<at::Tensor> mm, u;
    double w_mm = 0.5, w_u = 0.5;
  };
  std::vector<Parts> parts(groups.size());
  cosines_.assign(groups.size(), 0);
  for (std::size_t m = 0; m < groups.size(); ++m) {
    const at::Tensor& unimodal = step.losses.at(step.losses.size() - groups.size() + m).second;
    parts[m].mm = torch::autograd::grad({multimodal}, groups[m], {}, true, false, true);
    parts[m].u = torch::autograd::grad({unimodal}, groups[m], {}, true, false, true);
    const auto a = flat(parts[m].mm, groups[m]), b = flat(parts[m].u, groups[m]);
    const double norms = (a.norm() * b.norm()).item<double>();
    cosines_[m] = norms > 0 ? a.dot(b).item<double>() / norms : 0;
    std::tie(parts[m].w_mm, parts[m].w_u) = pareto_weights(a, b);
  }
  at::Tensor total = step.losses.front().second;
  for (std::size_t i = 1; i < step.losses.size(); ++i)
    total = total + step.losses[i].second;
  total.backward();  // the plain sum: the heads keep it, the encoders' norms are measured on it
  const torch::NoGradGuard no_grad;
  for (std::size_t m = 0; m < groups.size(); ++m) {
    for (std::size_t i = 0; i < groups[m].size(); ++i) {
      auto p = groups[m][i];
      const auto& g_mm = parts[m].mm[i];
      const auto& g_u = parts[m].u[i];
      if (!g_mm.defined() && !g_u.defined()) continue;
      auto combined = torch::zeros_like(p);
      if (g_mm.defined()) combined = combined + parts[m].w_mm * g_mm;
      if (g_u.defined()) combined = combined + parts[m].w_u * g_u;
      combined = 2 * combined;
      const double new_norm = combined.norm().item<double>();
      const double sum_norm = p.grad().defined() ? p.grad().norm().item<double>() : 0;
      if (new_norm > 0 && sum_norm / new_norm > 1) combined = combined * (sum_norm / new_norm);
      p.mutable_grad() = options_.scale * combined;
    }
  }
  return true;
}

}  // namespace avqa::train
