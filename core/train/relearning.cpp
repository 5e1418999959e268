#include "core/train/relearning.h"

#include <cmath>
#include <map>

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "core/checkpoint/torch_checkpoint.h"
#include "core/train/diagnostics.h"

namespace avqa::train {
namespace {

// Encoder features of every sample of `data` in evaluation mode.
FeatureBank features_of(ModalityModel& model, const TrainingData& data, int batch) {
  FeatureBank bank(model.modalities().size());
  for_each_encoded_batch(model, data, batch,
                         [&](const Batch& b, const Encoded& e) { bank.add(e, b.labels); });
  return bank;
}

}  // namespace

at::Tensor min_max_scale(const at::Tensor& x) {
  const auto low = std::get<0>(x.min(0, true));
  const auto high = std::get<0>(x.max(0, true));
  const auto range = high - low;
  return torch::where(range > 0, 2 * (x - low) / range.clamp_min(1e-12) - 1, torch::zeros_like(x));
}

at::Tensor k_means(const at::Tensor& x_in, std::int64_t k, std::uint64_t seed, int iterations) {
  const auto x = x_in.to(torch::kDouble);
  const auto n = x.size(0);
  k = std::min(k, n);
  auto generator = at::detail::createCPUGenerator(seed);
  // k-means++: each next centre drawn with probability proportional to the squared distance.
  std::vector<std::int64_t> chosen{
      torch::randint(n, {1}, generator, torch::kLong).item<std::int64_t>()};
  auto nearest = (x - x[chosen[0]]).pow(2).sum(1);
  while (static_cast<std::int64_t>(chosen.size()) < k) {
    const double total = nearest.sum().item<double>();
    std::int64_t next = 0;
    if (total > 0) {
      next = torch::multinomial(nearest / total, 1, false, generator).item<std::int64_t>();
    } else {
      next = static_cast<std::int64_t>(chosen.size());  // every point is a centre already
    }
    chosen.push_back(next);
    nearest = torch::minimum(nearest, (x - x[next]).pow(2).sum(1));
  }
  auto centres = x.index_select(0, torch::tensor(chosen));
  at::Tensor assignment;
  for (int it = 0; it < iterations; ++it) {
    const auto next = torch::cdist(x, centres).argmin(1);
    if (assignment.defined() && next.equal(assignment)) break;
    assignment = next;
    for (std::int64_t c = 0; c < k; ++c) {
      const auto members = (assignment == c).nonzero().squeeze(1);
      if (members.numel() > 0) centres[c] = x.index_select(0, members).mean(0);
    }
  }
  return assignment;
}

double cluster_purity(const at::Tensor& clusters, const at::Tensor& labels) {
  const auto c = clusters.to(torch::kLong).contiguous();
  const auto y = labels.to(torch::kLong).contiguous();
  std::map<std::int64_t, std::map<std::int64_t, std::int64_t>> counts;
  for (std::int64_t i = 0; i < c.size(0); ++i)
    ++counts[c[i].item<std::int64_t>()][y[i].item<std::int64_t>()];
  std::int64_t majority = 0;
  for (const auto& [cluster, by_label] : counts) {
    std::int64_t best = 0;
    for (const auto& [label, count] : by_label)
      best = std::max(best, count);
    majority += best;
  }
  return c.size(0) > 0 ? static_cast<double>(majority) / static_cast<double>(c.size(0)) : 0;
}

double relearning_strength(double train_purity, double val_purity, double lambda) {
  return std::tanh(lambda * std::abs(train_purity - val_purity));
}

void soft_reinitialise(const std::vector<at::Tensor>& parameters,
                       const std::vector<at::Tensor>& initial,
                       double alpha) {
  const torch::NoGradGuard no_grad;
  for (std::size_t i = 0; i < parameters.size(); ++i) {
    auto p = parameters[i];
    p.copy_(alpha * initial.at(i) + (1 - alpha) * p);
  }
}

void Relearning::on_fit_start(FitContext& fit) {
  // θ_init is what the model was built with: kept in the run so a resumed run pulls toward the
  // same point.
  const auto file = fit.options.out / "relearn-initial.pt";
  std::vector<at::Tensor> flat;
  if (fit.resumed && std::filesystem::exists(file)) {
    checkpoint::require_sound_archive(file);
    torch::load(flat, file.string());
  } else {
    for (const auto& group : fit.encoder_groups) {
      for (const auto& p : group)
        flat.push_back(p.detach().clone());
    }
    const auto temp = file.string() + ".tmp";
    torch::save(flat, temp);
    std::filesystem::rename(temp, file);
  }
  initial_.clear();
  std::size_t at = 0;
  for (const auto& group : fit.encoder_groups) {
    initial_.emplace_back(flat.begin() + static_cast<std::ptrdiff_t>(at),
                          flat.begin() + static_cast<std::ptrdiff_t>(at + group.size()));
    at += group.size();
  }
}

void Relearning::on_epoch_end(FitContext& fit) {
  if (fit.epoch % options_.every != 0 || done_ >= options_.times) return;
  const FeatureBank train = features_of(fit.model, fit.train_data, fit.options.batch);
  const FeatureBank val = features_of(fit.model, fit.val_data, fit.options.batch);
  const auto classes =
      std::max(train.labels().max().item<std::int64_t>(), val.labels().max().item<std::int64_t>()) +
      1;
  strengths_.clear();
  for (std::size_t m = 0; m < fit.encoder_groups.size(); ++m) {
    const double p_train =
        cluster_purity(k_means(min_max_scale(train.features(m)), classes, 0), train.labels());
    const double p_val =
        cluster_purity(k_means(min_max_scale(val.features(m)), classes, 0), val.labels());
    strengths_.push_back(relearning_strength(p_train, p_val, options_.lambda));
    soft_reinitialise(fit.encoder_groups[m], initial_.at(m), strengths_.back());
  }
  ++done_;
}

nlohmann::json Relearning::state() const {
  return {{"done", done_}, {"strengths", strengths_}};
}

void Relearning::restore(const nlohmann::json& state) {
  done_ = state.value("done", 0);
  strengths_ = state.value("strengths", std::vector<double>{});
}

}  // namespace avqa::train
