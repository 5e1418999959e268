#include "core/train/modality_dropout.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include <torch/torch.h>

namespace avqa::train {

std::array<double, 2> drop_probabilities(double score_first,
                                         double score_second,
                                         const ModalityDropoutOptions& o) {
  const auto probability = [&](double mine, double other) {
    const double ratio = other > 0 ? mine / other : (mine > 0 ? 1e9 : 1.0);
    const double r = std::tanh(std::max(0.0, ratio - 1.0));
    return r > 0 ? std::clamp(o.q_base * (1 + o.lambda * r), 0.0, 1.0) : 0.0;
  };
  return {probability(score_first, score_second), probability(score_second, score_first)};
}

void ModalityDropout::on_fit_start(FitContext& fit) {
  if (fit.encoder_groups.size() != 2)
    throw std::invalid_argument("opm needs a model with exactly two modalities");
}

void ModalityDropout::on_features(StepContext& step) {
  last_ = {0, 0};
  if (step.fit.epoch <= options_.warmup_epochs) return;
  last_ = drop_probabilities(step.score(0), step.score(1), options_);
  if (last_[0] == 0 && last_[1] == 0) return;
  if (torch::rand({1}).item<double>() >= options_.p_exe) return;  // this step runs as usual
  auto& features = step.encoded.features;
  const auto rows = features[0].size(0);
  double dims = 0, dropped = 0;
  auto kept_any = torch::zeros({rows}, torch::kBool);
  for (std::size_t m = 0; m < 2; ++m) {
    const double d = static_cast<double>(features[m].numel() / std::max<std::int64_t>(1, rows));
    dims += d;
    dropped += d * last_[m];
    const auto keep = torch::rand({rows}) >= last_[m];  // Bernoulli(1 - q_m) per sample
    kept_any = kept_any | keep;
    std::vector<std::int64_t> shape(static_cast<std::size_t>(features[m].dim()), 1);
    shape[0] = rows;
    features[m] = features[m] * keep.to(features[m].dtype()).view(shape);
  }
  const double scale = 1.0 / (1.0 - dropped / dims);
  for (auto& f : features)
    f = f * scale;
  step.keep = kept_any.nonzero().squeeze(1);
}

}  // namespace avqa::train
