#include "core/train/valuation.h"

#include <stdexcept>

#include <torch/torch.h>

#include "core/train/diagnostics.h"

namespace avqa::train {

at::Tensor valuation_shapley(const at::Tensor& fused_correct,
                             const at::Tensor& first_correct,
                             const at::Tensor& second_correct) {
  const auto v_av = 2 * fused_correct.to(torch::kDouble);
  const auto v_a = first_correct.to(torch::kDouble);
  const auto v_v = second_correct.to(torch::kDouble);
  return torch::stack({(v_a + v_av - v_v) / 2, (v_v + v_av - v_a) / 2}, 1);
}

int extra_copies(double phi) {
  if (phi >= 1) return 0;
  if (phi > 0.4) return 1;
  if (phi > -0.1) return 2;
  return 3;
}

void Valuation::on_fit_start(FitContext& fit) {
  if (fit.encoder_groups.size() != 2)
    throw std::invalid_argument(name() + " needs a model with exactly two modalities");
}

void Valuation::on_epoch_start(FitContext& fit, std::vector<PlannedSample>& plan) {
  if (fit.epoch < options_.warmup_epochs) return;
  ModalityModel& model = fit.model;
  std::vector<at::Tensor> fused, first, second;
  for_each_encoded_batch(model, fit.train_data, fit.options.batch,
                         [&](const Batch& b, const Encoded& e) {
                           fused.push_back(model.fuse(e).argmax(1) == b.labels);
                           first.push_back(model.unimodal_logits(e, 0).argmax(1) == b.labels);
                           second.push_back(model.unimodal_logits(e, 1).argmax(1) == b.labels);
                         });
  const auto phi = valuation_shapley(torch::cat(fused), torch::cat(first), torch::cat(second));
  const auto n = phi.size(0);
  if (options_.level == ValuationLevel::Sample) {
    const auto values = phi.contiguous();
    const double* v = values.data_ptr<double>();
    for (std::int64_t i = 0; i < n; ++i) {
      for (int m = 0; m < 2; ++m) {
        // The copy trains modality m alone: the other one is zeroed.
        for (int c = extra_copies(v[i * 2 + m]); c > 0; --c)
          plan.push_back({static_cast<std::size_t>(i), 1 - m});
      }
    }
    means_ = {phi.select(1, 0).mean().item<double>(), phi.select(1, 1).mean().item<double>()};
    return;
  }
  // Random draws from torch's generator, seeded per epoch by the trainer: a resumed run repeats
  // them.
  const auto part = std::max<std::int64_t>(
      1, static_cast<std::int64_t>(options_.part_ratio * static_cast<double>(n)));
  const auto subset = phi.index_select(0, torch::randint(n, {part}, torch::kLong));
  means_ = {subset.select(1, 0).mean().item<double>(), subset.select(1, 1).mean().item<double>()};
  const double gap_first = 1 - means_[0], gap_second = 1 - means_[1];
  const double d = std::abs(gap_first - gap_second) * (2.0 / 3.0) * options_.alpha;
  const auto copies = static_cast<std::int64_t>(d * static_cast<double>(n));
  const int better = means_[0] >= means_[1] ? 0 : 1;
  if (copies <= 0) return;
  const auto chosen = torch::randint(n, {copies}, torch::kLong).contiguous();
  for (std::int64_t i = 0; i < copies; ++i)
    plan.push_back({static_cast<std::size_t>(chosen[i].item<std::int64_t>()), better});
}

}  // namespace avqa::train
