#include "core/train/perturbation.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include <torch/torch.h>

#include "core/train/diagnostics.h"

namespace avqa::train {

namespace {

/// [B] reshaped to broadcast over a tensor of `dims` dimensions with the batch first.
at::Tensor per_sample(const at::Tensor& values, std::int64_t dims) {
  std::vector<std::int64_t> shape(static_cast<std::size_t>(dims), 1);
  shape[0] = values.size(0);
  return values.view(shape);
}

/// Per sample, the squared l2 norm of one modality's tensor: [B].
at::Tensor squared_norms(const at::Tensor& t) {
  return t.reshape({t.size(0), -1}).pow(2).sum(1);
}

/// Per sample, the l2 norm over several tensors together: [B].
at::Tensor joint_norms(const std::vector<at::Tensor>& parts) {
  at::Tensor sum = squared_norms(parts.front());
  for (std::size_t k = 1; k < parts.size(); ++k)
    sum = sum + squared_norms(parts[k]);
  return sum.sqrt();
}

void validate(const ModalityModel& model, const Batch& batch, const AttackOptions& o) {
  if (o.modalities.empty()) throw std::invalid_argument("attack: no modality to perturb");
  for (const std::size_t m : o.modalities) {
    if (m >= model.modalities().size() || m >= batch.inputs.size())
      throw std::invalid_argument("attack: modality " + std::to_string(m) + " out of range");
  }
  if (!(o.radius >= 0) || !std::isfinite(o.radius))
    throw std::invalid_argument("attack: radius must be finite and non-negative");
  if (o.steps < 1) throw std::invalid_argument("attack: steps must be at least 1");
  if (o.step_size < 0) throw std::invalid_argument("attack: step size must be non-negative");
}

/// Per sample, the l-inf norm over several tensors together: [B].
at::Tensor joint_max(const std::vector<at::Tensor>& parts) {
  at::Tensor out = parts.front().reshape({parts.front().size(0), -1}).abs().amax(1);
  for (std::size_t k = 1; k < parts.size(); ++k)
    out = torch::maximum(out, parts[k].reshape({parts[k].size(0), -1}).abs().amax(1));
  return out;
}

/// Per sample and perturbed modality, the radius: [B] each (the same for every modality unless
/// the radius is relative and the balls separate: then each modality's own norm sets its own).
std::vector<at::Tensor> radii(const std::vector<at::Tensor>& clean, const AttackOptions& o) {
  const std::int64_t n = clean.front().size(0);
  if (!o.relative) {
    const at::Tensor r = torch::full({n}, o.radius, clean.front().options());
    return std::vector<at::Tensor>(clean.size(), r);
  }
  const auto size = [&](const std::vector<at::Tensor>& parts) {
    return o.norm == AttackNorm::L2 ? joint_norms(parts) : joint_max(parts);
  };
  if (o.joint) {
    const at::Tensor r = o.radius * size(clean);
    return std::vector<at::Tensor>(clean.size(), r);
  }
  std::vector<at::Tensor> out;
  for (const auto& x : clean)
    out.push_back(o.radius * size({x}));
  return out;
}

/// Moves each perturbation one step along its normalised gradient; `step` [B] per modality.
void ascend(std::vector<at::Tensor>& delta,
            const std::vector<at::Tensor>& grads,
            const AttackOptions& o,
            const std::vector<at::Tensor>& step) {
  if (o.norm == AttackNorm::Linf) {
    for (std::size_t k = 0; k < delta.size(); ++k)
      delta[k] = delta[k] + per_sample(step[k], grads[k].dim()) * grads[k].sign();
    return;
  }
  // A zero gradient (a sample the model cannot be moved on) leaves its perturbation as it is.
  constexpr double kTiny = 1e-12;
  if (o.joint) {
    const at::Tensor norms = joint_norms(grads).clamp_min(kTiny);
    for (std::size_t k = 0; k < delta.size(); ++k)
      delta[k] = delta[k] + grads[k] * per_sample(step[k] / norms, grads[k].dim());
  } else {
    for (std::size_t k = 0; k < delta.size(); ++k) {
      const at::Tensor norms = squared_norms(grads[k]).sqrt().clamp_min(kTiny);
      delta[k] = delta[k] + grads[k] * per_sample(step[k] / norms, grads[k].dim());
    }
  }
}

/// Projects each perturbation back into its ball of radius `radius` [B] per modality.
void project(std::vector<at::Tensor>& delta,
             const AttackOptions& o,
             const std::vector<at::Tensor>& radius) {
  if (o.norm == AttackNorm::Linf) {
    for (std::size_t k = 0; k < delta.size(); ++k) {
      const at::Tensor r = per_sample(radius[k], delta[k].dim());
      delta[k] = torch::maximum(torch::minimum(delta[k], r), -r);
    }
    return;
  }
  const auto shrink = [](const at::Tensor& r, const at::Tensor& norms) {
    // min(1, r / ||delta||), written so that a zero perturbation keeps factor 1.
    return (r / norms.clamp_min(1e-30)).clamp_max(1.0);
  };
  if (o.joint) {
    const at::Tensor factor = shrink(radius.front(), joint_norms(delta));
    for (auto& d : delta)
      d = d * per_sample(factor, d.dim());
  } else {
    for (std::size_t k = 0; k < delta.size(); ++k) {
      const at::Tensor factor = shrink(radius[k], squared_norms(delta[k]).sqrt());
      delta[k] = delta[k] * per_sample(factor, delta[k].dim());
    }
  }
}

}  // namespace

AttackNorm parse_attack_norm(const std::string& name) {
  if (name == "l2") return AttackNorm::L2;
  if (name == "linf") return AttackNorm::Linf;
  throw std::invalid_argument("unknown attack norm '" + name + "' (l2, linf)");
}

const char* to_string(AttackNorm norm) {
  return norm == AttackNorm::L2 ? "l2" : "linf";
}

Batch attack(ModalityModel& model, const Batch& batch, const AttackOptions& o) {
  validate(model, batch, o);
  std::vector<at::Tensor> clean, delta;
  for (const std::size_t m : o.modalities) {
    clean.push_back(batch.inputs[m].detach());
    delta.push_back(torch::zeros_like(clean.back()));
  }
  // FGM is one step of the whole radius; PGD's default step is rob_test.py's radius / 3.
  const std::vector<at::Tensor> radius = radii(clean, o);
  const double step_share =
      o.steps == 1 ? 1.0 : (o.step_size > 0 ? o.step_size / o.radius : 1.0 / 3);
  std::vector<at::Tensor> step;
  for (const auto& r : radius)
    step.push_back(r * step_share);
  const torch::AutoGradMode enable_grad(true);
  for (int s = 0; s < o.steps && o.radius > 0; ++s) {
    Batch b = batch;
    std::vector<at::Tensor> leaves;
    for (std::size_t k = 0; k < clean.size(); ++k) {
      leaves.push_back((clean[k] + delta[k]).detach().requires_grad_(true));
      b.inputs[o.modalities[k]] = leaves.back();
    }
    // A sum, not a mean: every sample's gradient at its own scale (they are normalised anyway,
    // but a sign of a 1e-9 gradient in l-inf would be noise).
    const at::Tensor loss = torch::nn::functional::cross_entropy(
        model.fuse(model.encode(b)), b.labels,
        torch::nn::functional::CrossEntropyFuncOptions().reduction(torch::kSum));
    // autograd::grad, not backward(): the parameters' .grad stay untouched.
    std::vector<at::Tensor> grads = torch::autograd::grad({loss}, leaves, {}, false, false, true);
    for (std::size_t k = 0; k < grads.size(); ++k)
      if (!grads[k].defined()) grads[k] = torch::zeros_like(clean[k]);
    ascend(delta, grads, o, step);
    project(delta, o, radius);
  }
  Batch out = batch;
  for (std::size_t k = 0; k < clean.size(); ++k)
    out.inputs[o.modalities[k]] = (clean[k] + delta[k]).detach();
  return out;
}

at::Tensor perturbation_norms(const Batch& clean,
                              const Batch& perturbed,
                              const std::vector<std::size_t>& modalities,
                              AttackNorm norm) {
  std::vector<at::Tensor> diffs;
  for (const std::size_t m : modalities)
    diffs.push_back(perturbed.inputs.at(m) - clean.inputs.at(m));
  if (diffs.empty()) throw std::invalid_argument("perturbation_norms: no modality");
  return norm == AttackNorm::L2 ? joint_norms(diffs) : joint_max(diffs);
}

CorruptionKind parse_corruption_kind(const std::string& name) {
  if (name == "zeros") return CorruptionKind::Zeros;
  if (name == "mean") return CorruptionKind::Mean;
  if (name == "drop") return CorruptionKind::DroppedSeconds;
  if (name == "noise") return CorruptionKind::Noise;
  throw std::invalid_argument("unknown corruption '" + name + "' (zeros, mean, drop, noise)");
}

const char* to_string(CorruptionKind kind) {
  switch (kind) {
    case CorruptionKind::Zeros:
      return "zeros";
    case CorruptionKind::Mean:
      return "mean";
    case CorruptionKind::DroppedSeconds:
      return "drop";
    case CorruptionKind::Noise:
      return "noise";
  }
  return "?";
}

Batch corrupt(const Batch& batch,
              const Corruption& c,
              std::uint64_t seed,
              const at::Tensor& samples) {
  if (c.modality >= batch.inputs.size())
    throw std::invalid_argument("corrupt: modality " + std::to_string(c.modality) +
                                " out of range");
  const at::Tensor x = batch.inputs[c.modality];
  const std::int64_t n = x.size(0);
  auto generator = at::detail::createCPUGenerator(seed);
  at::Tensor y;
  switch (c.kind) {
    case CorruptionKind::Zeros:
      y = torch::zeros_like(x);
      break;
    case CorruptionKind::Mean:
      if (!c.mean.defined() || c.mean.sizes() != x.sizes().slice(1))
        throw std::invalid_argument(
            "corrupt: the mean input must have one sample's shape of modality " +
            std::to_string(c.modality));
      y = c.mean.to(x.dtype()).unsqueeze(0).expand_as(x).clone();
      break;
    case CorruptionKind::DroppedSeconds: {
      if (x.dim() < 2) throw std::invalid_argument("corrupt: dropped seconds need [B, T, ...]");
      if (!(c.amount >= 0 && c.amount <= 1))
        throw std::invalid_argument("corrupt: the fraction of dropped seconds must be in [0, 1]");
      const std::int64_t seconds = x.size(1);
      const auto dropped = static_cast<std::int64_t>(std::llround(c.amount * seconds));
      at::Tensor keep = torch::ones({n, seconds}, x.options());
      for (std::int64_t i = 0; i < n; ++i)
        keep[i].index_fill_(0, torch::randperm(seconds, generator).slice(0, 0, dropped), 0);
      std::vector<std::int64_t> shape(static_cast<std::size_t>(x.dim()), 1);
      shape[0] = n;
      shape[1] = seconds;
      y = x * keep.view(shape);
      break;
    }
    case CorruptionKind::Noise: {
      if (!std::isfinite(c.amount)) throw std::invalid_argument("corrupt: SNR must be finite");
      // Per sample: noise power = signal power / 10^(SNR/10), the signal's power its mean square.
      const at::Tensor power = x.reshape({n, -1}).to(torch::kDouble).pow(2).mean(1);
      const at::Tensor sigma = (power / std::pow(10.0, c.amount / 10)).sqrt().to(x.dtype());
      y = x + per_sample(sigma, x.dim()) * torch::randn(x.sizes(), generator, x.options());
      break;
    }
  }
  if (samples.defined()) {
    if (samples.dim() != 1 || samples.size(0) != n)
      throw std::invalid_argument("corrupt: the sample mask must be [B]");
    y = torch::where(per_sample(samples.to(torch::kBool), x.dim()), y, x);
  }
  Batch out = batch;
  out.inputs[c.modality] = y;
  return out;
}

Batch vary_quality(const Batch& batch,
                   Corruption c,
                   std::size_t modalities,
                   double probability,
                   std::uint64_t seed,
                   at::Tensor* degraded) {
  if (modalities == 0 || modalities > batch.inputs.size())
    throw std::invalid_argument("vary_quality: modality count out of range");
  if (!(probability >= 0 && probability <= 1))
    throw std::invalid_argument("vary_quality: probability must be in [0, 1]");
  auto generator = at::detail::createCPUGenerator(seed);
  const std::int64_t n = batch.size();
  const at::Tensor hit = torch::rand({n}, generator) < probability;
  const at::Tensor which =
      torch::randint(static_cast<std::int64_t>(modalities), {n}, generator, torch::kLong);
  Batch out = batch;
  for (std::size_t m = 0; m < modalities; ++m) {
    c.modality = m;
    const at::Tensor mask = hit & (which == static_cast<std::int64_t>(m));
    out = corrupt(out, c, seed + 1 + m, mask);
  }
  if (degraded) *degraded = torch::where(hit, which, torch::full_like(which, -1));
  return out;
}

at::Tensor correct_under(ModalityModel& model,
                         const TrainingData& data,
                         int batch,
                         const BatchTransform& transform,
                         std::uint64_t seed) {
  if (batch < 1) throw std::invalid_argument("correct_under: batch must be at least 1");
  model.set_training(false);
  std::vector<at::Tensor> correct;
  for_each_batch(data, batch, [&](Batch b, std::size_t k) {
    if (transform) b = transform(model, b, seed + k);
    const torch::NoGradGuard no_grad;
    correct.push_back(model.fuse(model.encode(b)).argmax(1) == b.labels);
  });
  return correct.empty() ? torch::zeros({0}, torch::kBool) : torch::cat(correct);
}

double accuracy_under(ModalityModel& model,
                      const TrainingData& data,
                      int batch,
                      const BatchTransform& transform,
                      std::uint64_t seed) {
  const at::Tensor correct = correct_under(model, data, batch, transform, seed);
  return correct.numel() == 0 ? 0.0 : correct.to(torch::kDouble).mean().item<double>();
}

}  // namespace avqa::train
