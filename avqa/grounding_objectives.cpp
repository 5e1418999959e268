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

at::Tensor batch_localization_loss(const at::Tensor& audio,
                                   const at::Tensor& maps,
                                   const at::Tensor& videos,
                                   double temperature) {
  TORCH_CHECK(audio.dim() == 3 && maps.dim() == 4 && audio.size(0) == maps.size(0) &&
                  audio.size(1) == maps.size(1) && audio.size(2) == maps.size(2),
              "batch localization needs audio [B, T, C] and maps [B, T, C, HW], got ",
              audio.sizes(), " and ", maps.sizes());
  TORCH_CHECK(videos.dim() == 1 && videos.size(0) == audio.size(0),
              "batch localization needs one video index per item");
  TORCH_CHECK(temperature > 0, "the localization temperature must be positive");
  const auto b = audio.size(0);
  const auto unit_audio = torch::nn::functional::normalize(
      audio.transpose(0, 1), torch::nn::functional::NormalizeFuncOptions().dim(2));  // [T, B, C]
  const auto unit_maps = torch::nn::functional::normalize(
      maps.detach().transpose(0, 1), torch::nn::functional::NormalizeFuncOptions().dim(2));
  // cos[t, i, j, p]: audio of item i against patch p of item j's frame, segment t.
  const auto cos = torch::einsum("tic,tjcp->tijp", {unit_audio, unit_maps});
  const auto scores = (torch::softmax(cos / temperature, 3) * cos).sum(3);  // [T, B, B]
  const auto same = videos.unsqueeze(0) == videos.unsqueeze(1);             // [B, B]
  const auto others = same.logical_and(torch::eye(b, torch::kBool).logical_not());
  const auto logits = (scores / temperature).masked_fill(others.unsqueeze(0), -1e9);
  const auto targets = torch::arange(b, torch::kLong).unsqueeze(0).expand({audio.size(1), b});
  return torch::cross_entropy_loss(logits.reshape({-1, b}), targets.reshape({-1}));
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
