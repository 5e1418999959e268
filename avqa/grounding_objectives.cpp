#include "avqa/grounding_objectives.h"

#include <torch/torch.h>

namespace avqa::net {

at::Tensor localization_loss(const at::Tensor& positive,
                             const at::Tensor& negative,
                             double temperature) {
  TORCH_CHECK(positive.sizes() == negative.sizes(), "localization scores must have one shape, got ",
              positive.sizes(), " and ", negative.sizes());
  TORCH_CHECK(temperature > 0, "the localization temperature must be positive");
  return torch::softplus((negative - positive) / temperature).mean();
}

at::Tensor attention_supervision_loss(const at::Tensor& attention, const at::Tensor& truth) {
  TORCH_CHECK(attention.dim() == 2 && attention.sizes() == truth.sizes(),
              "attention supervision needs attention and truth of one [N, HW] shape, got ",
              attention.sizes(), " and ", truth.sizes());
  const auto mass = truth.sum(1, /*keepdim=*/true);  // [N, 1]
  const auto rows = (mass.squeeze(1) > 0);
  const auto count = rows.sum();
  if (count.item<std::int64_t>() == 0) return (attention * 0).sum();
  const auto target = truth / mass.clamp_min(1e-12);
  // sum_i t_i (log t_i - log p_i), with 0 log 0 = 0.
  const auto log_target =
      torch::where(target > 0, target.clamp_min(1e-30).log(), torch::zeros_like(target));
  const auto kl = (target * (log_target - attention.clamp_min(1e-12).log())).sum(1);  // [N]
  return (kl * rows.to(kl.scalar_type())).sum() / count.to(kl.scalar_type());
}

}  // namespace avqa::net
