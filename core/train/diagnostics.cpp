#include "core/train/diagnostics.h"

#include <set>
#include <stdexcept>

#include <torch/torch.h>

#include "core/train/trainer.h"

namespace avqa::train {

void FeatureBank::add(const Encoded& encoded, const at::Tensor& labels) {
  for (std::size_t m = 0; m < features_.size(); ++m)
    features_[m].push_back(encoded.features.at(m).detach().flatten(1).to(torch::kCPU).clone());
  labels_.push_back(labels.detach().to(torch::kCPU));
}

at::Tensor FeatureBank::features(std::size_t m) const {
  return features_.at(m).empty() ? at::Tensor() : torch::cat(features_[m], 0);
}

at::Tensor FeatureBank::labels() const {
  return labels_.empty() ? at::Tensor() : torch::cat(labels_, 0);
}

ClassificationScores classification_scores(const at::Tensor& predictions,
                                           const at::Tensor& labels,
                                           std::int64_t classes) {
  ClassificationScores out;
  const auto n = labels.size(0);
  if (n == 0) return out;
  const auto p = predictions.to(torch::kLong).contiguous();
  const auto y = labels.to(torch::kLong).contiguous();
  const auto confusion = torch::bincount(y * classes + p, {}, classes * classes)
                             .view({classes, classes})
                             .to(torch::kDouble);  // [true, predicted]
  const auto hits = confusion.diagonal();
  out.accuracy = hits.sum().item<double>() / static_cast<double>(n);
  const auto truth = confusion.sum(1), predicted = confusion.sum(0);
  double f1_sum = 0;
  int present = 0;
  for (std::int64_t c = 0; c < classes; ++c) {
    const double t = truth[c].item<double>(), q = predicted[c].item<double>();
    if (t == 0 && q == 0) continue;
    ++present;
    f1_sum += 2 * hits[c].item<double>() / (t + q);
  }
  out.macro_f1 = present > 0 ? f1_sum / present : 0;
  return out;
}

at::Tensor shapley_values(const std::vector<at::Tensor>& correct, std::size_t modalities) {
  const std::size_t coalitions = std::size_t{1} << modalities;
  if (correct.size() != coalitions - 1)
    throw std::invalid_argument("shapley_values: need one result per non-empty coalition");
  std::vector<double> factorial(modalities + 1, 1);
  for (std::size_t i = 1; i <= modalities; ++i)
    factorial[i] = factorial[i - 1] * static_cast<double>(i);
  const auto value = [&](std::size_t s) {
    return s == 0 ? torch::zeros_like(correct[0], torch::kDouble)
                  : correct[s - 1].to(torch::kDouble);
  };
  std::vector<at::Tensor> columns;
  for (std::size_t m = 0; m < modalities; ++m) {
    auto phi = torch::zeros_like(correct[0], torch::kDouble);
    for (std::size_t s = 0; s < coalitions; ++s) {
      if (s & (std::size_t{1} << m)) continue;
      const auto size = static_cast<std::size_t>(__builtin_popcountll(s));
      const double weight =
          factorial[size] * factorial[modalities - size - 1] / factorial[modalities];
      phi = phi + weight * (value(s | (std::size_t{1} << m)) - value(s));
    }
    columns.push_back(phi);
  }
  return torch::stack(columns, 1);
}

void for_each_batch(const TrainingData& data,
                    int batch,
                    const std::function<void(Batch, std::size_t k)>& visit) {
  if (batch < 1) throw std::invalid_argument("batch must be at least 1");
  const auto step = static_cast<std::size_t>(batch);
  std::size_t k = 0;
  for (std::size_t begin = 0; begin < data.size(); begin += step, ++k) {
    std::vector<std::size_t> indices;
    for (std::size_t i = begin; i < std::min(data.size(), begin + step); ++i)
      indices.push_back(i);
    visit(data.load(indices, false, 0), k);
  }
}

void for_each_encoded_batch(ModalityModel& model,
                            const TrainingData& data,
                            int batch,
                            const std::function<void(const Batch&, const Encoded&)>& visit) {
  const torch::NoGradGuard no_grad;
  model.set_training(false);
  for_each_batch(data, batch, [&](Batch b, std::size_t) { visit(b, model.encode(b)); });
  model.set_training(true);
}

Validation validate(ModalityModel& model, const TrainingData& data, int batch, bool diagnostics) {
  const std::size_t m_count = model.modalities().size();
  const bool per_modality = diagnostics && m_count >= 2;
  const std::size_t coalitions = std::size_t{1} << m_count;
  Validation out;
  out.features = FeatureBank(m_count);
  std::vector<at::Tensor> predictions, labels;
  std::vector<std::vector<at::Tensor>> correct(per_modality ? coalitions - 1 : 0);
  for_each_encoded_batch(model, data, batch, [&](const Batch& b, const Encoded& e) {
    const auto p = model.fuse(e).argmax(1);
    predictions.push_back(p);
    labels.push_back(b.labels);
    if (!per_modality) return;
    out.features.add(e, b.labels);
    correct[coalitions - 2].push_back(p == b.labels);  // every modality: the fused answer
    for (std::size_t s = 1; s + 1 < coalitions; ++s) {
      at::Tensor logits;
      if (__builtin_popcountll(s) == 1) {
        // A single modality's coalition is its uni-modal answer (the model's own definition).
        logits = model.unimodal_logits(e, static_cast<std::size_t>(__builtin_ctzll(s)));
      } else {
        Encoded partial = e;
        for (std::size_t m = 0; m < m_count; ++m) {
          if (!(s & (std::size_t{1} << m))) partial = with_zeroed(partial, m);
        }
        logits = model.fuse(partial);
      }
      correct[s - 1].push_back(logits.argmax(1) == b.labels);
    }
  });
  if (predictions.empty()) return out;
  out.predictions = torch::cat(predictions);
  const auto y = torch::cat(labels);
  out.labels = y;
  const auto classes =
      std::max(out.predictions.max().item<std::int64_t>(), y.max().item<std::int64_t>()) + 1;
  out.fused = classification_scores(out.predictions, y, classes);
  out.accuracy = out.fused.accuracy;
  if (per_modality) {
    std::vector<at::Tensor> joined;
    for (auto& c : correct)
      joined.push_back(torch::cat(c));
    const auto phi = shapley_values(joined, m_count);
    for (std::size_t m = 0; m < m_count; ++m) {
      out.unimodal_accuracy.push_back(
          joined[(std::size_t{1} << m) - 1].to(torch::kDouble).mean().item<double>());
      out.contribution.push_back(phi.select(1, static_cast<std::int64_t>(m)).mean().item<double>());
    }
  }
  return out;
}

double probe_accuracy(const FeatureBank& train,
                      const FeatureBank& test,
                      std::size_t m,
                      std::uint64_t seed) {
  auto x = train.features(m);
  const auto xt = test.features(m);
  if (!x.defined() || !xt.defined()) return 0;
  auto y = train.labels();
  const auto yt = test.labels();
  // At most kProbeRows training rows, evenly spaced: the probe costs a fixed fraction of a
  // second per epoch whatever the split's size.
  constexpr std::int64_t kProbeRows = 2048;
  if (x.size(0) > kProbeRows) {
    const auto rows =
        torch::linspace(0, static_cast<double>(x.size(0) - 1), kProbeRows).to(torch::kLong);
    x = x.index_select(0, rows);
    y = y.index_select(0, rows);
  }
  const std::int64_t classes =
      std::max(y.max().item<std::int64_t>(), yt.max().item<std::int64_t>()) + 1;
  const auto mean = x.mean(0, true);
  const auto scale = x.std(0, true, true).clamp_min(1e-6);
  const auto xs = ((x - mean) / scale).detach();
  const auto xts = ((xt - mean) / scale).detach();
  torch::Generator generator = at::detail::createCPUGenerator(seed);
  auto w = (torch::randn({x.size(1), classes}, generator) * 0.01).requires_grad_();
  auto b = torch::zeros({classes}).requires_grad_();
  torch::optim::Adam adam({w, b}, torch::optim::AdamOptions(0.05));
  {
    const torch::AutoGradMode grad(true);
    for (int step = 0; step < 100; ++step) {
      adam.zero_grad();
      const auto loss = torch::cross_entropy_loss(xs.matmul(w) + b, y) + 1e-3 * w.pow(2).sum();
      loss.backward();
      adam.step();
    }
  }
  const torch::NoGradGuard no_grad;
  return (xts.matmul(w) + b).argmax(1).eq(yt).to(torch::kDouble).mean().item<double>();
}

}  // namespace avqa::train
