#include "core/train/robust_evaluation.h"

#include <cstdio>
#include <map>
#include <stdexcept>

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "core/train/crmt.h"
#include "core/train/diagnostics.h"

namespace avqa::train {

namespace {

std::string number(double value) {
  char text[32];
  std::snprintf(text, sizeof text, "%g", value);
  return text;
}

std::string percent(double share) {
  char text[32];
  std::snprintf(text, sizeof text, "%.2f %%", 100 * share);
  return text;
}

/// Certified accuracy at each radius: right, and the certified radius (over all inputs, then
/// each alone) at least the radius (times the sample's norm over those inputs when relative).
void certified_conditions(ModalityModel& model,
                          const TrainingData& data,
                          const RobustEvalOptions& o,
                          RobustReport& report) {
  CertifiableModel& certifiable = require_certifiable(model, "certified accuracy");
  const std::size_t modalities = report.modalities.size();
  std::vector<at::Tensor> correct, joint, joint_norm;
  std::vector<std::vector<at::Tensor>> alone(modalities), norm(modalities);
  model.set_training(false);
  for_each_batch(data, o.batch, [&](Batch b, std::size_t) {
    torch::NoGradGuard no_grad;
    const CertifiedLogits logits = certifiable.certified_logits(model.encode(b));
    const CertifiedRadii radii =
        certified_radii(*certifiable.crmt_head(), logits, o.lipschitz, b.labels);
    correct.push_back(radii.correct);
    joint.push_back(radii.joint);
    at::Tensor squares = torch::zeros({b.size()}, torch::kDouble);
    for (std::size_t m = 0; m < modalities; ++m) {
      alone[m].push_back(radii.modality.at(m));
      const at::Tensor n = b.inputs[m].flatten(1).to(torch::kDouble).norm(2, {1});
      norm[m].push_back(n);
      squares = squares + n * n;
    }
    joint_norm.push_back(squares.sqrt());
  });
  const at::Tensor right = torch::cat(correct);
  const auto add = [&](const std::string& modality, const at::Tensor& radius,
                       const at::Tensor& scale) {
    for (const double r : o.radii) {
      RobustCondition c{"certified", modality, r, {}, 0, o.relative};
      c.correct = right & (radius >= (o.relative ? r * scale : torch::full_like(scale, r)));
      c.accuracy = c.correct.to(torch::kDouble).mean().item<double>();
      report.conditions.push_back(std::move(c));
    }
  };
  add("", torch::cat(joint), torch::cat(joint_norm));
  for (std::size_t m = 0; m < modalities; ++m)
    add(report.modalities[m], torch::cat(alone[m]), torch::cat(norm[m]));
}

}  // namespace

std::string RobustCondition::label() const {
  if (kind == "clean") return "clean";
  if (kind == "zeros") return modality + " missing (zeros)";
  if (kind == "mean") return modality + " missing (the split's mean input)";
  if (kind == "drop") return modality + ": " + number(100 * amount) + " % of the seconds dropped";
  if (kind == "noise") return modality + " noise at " + number(amount) + " dB SNR";
  if (kind == "quality") return number(100 * amount) + " % of samples lose a random modality";
  if (kind == "certified") {
    const std::string ball = modality.empty() ? "all inputs" : modality;
    return "certified l2 " + ball + " radius " + number(relative ? 100 * amount : amount) +
           (relative ? " % of its norm" : "");
  }
  // attacks: "pgd-l2 audio radius 1", "pgd-l2 audio radius 10 % of its norm"
  if (relative) return kind + " " + modality + " radius " + number(100 * amount) + " % of its norm";
  return kind + " " + modality + " radius " + number(amount);
}

std::vector<at::Tensor> mean_inputs(const TrainingData& data, int batch) {
  if (data.size() == 0) throw std::invalid_argument("mean_inputs: no samples");
  std::vector<at::Tensor> sums;
  for_each_batch(data, batch, [&](Batch b, std::size_t) {
    if (sums.empty()) sums.resize(b.inputs.size());
    for (std::size_t m = 0; m < b.inputs.size(); ++m) {
      const at::Tensor s = b.inputs[m].to(torch::kDouble).sum(0);
      sums[m] = sums[m].defined() ? sums[m] + s : s;
    }
  });
  for (auto& s : sums)
    s = (s / static_cast<double>(data.size())).to(torch::kFloat);
  return sums;
}

RobustReport robust_evaluate(ModalityModel& model,
                             const TrainingData& data,
                             const RobustEvalOptions& o,
                             const std::function<void(const std::string&)>& progress) {
  if (o.batch < 1) throw std::invalid_argument("robust evaluation: batch must be at least 1");
  if (o.steps < 1) throw std::invalid_argument("robust evaluation: steps must be at least 1");
  if (data.size() == 0) throw std::invalid_argument("robust evaluation: no samples");
  RobustReport report;
  report.modalities = model.modalities();
  report.norm = o.norm;
  report.steps = o.steps;
  const std::size_t modalities = report.modalities.size();
  const auto run = [&](RobustCondition c, const BatchTransform& transform) {
    if (progress) progress(c.label());
    c.correct = correct_under(model, data, o.batch, transform, o.seed);
    c.accuracy = c.correct.to(torch::kDouble).mean().item<double>();
    report.conditions.push_back(std::move(c));
  };
  run({"clean", "", 0, {}, 0}, {});

  if (o.attacks) {
    const std::string kind = std::string(o.steps == 1 ? "fgm-" : "pgd-") + to_string(o.norm);
    for (std::size_t m = 0; m < modalities; ++m) {
      for (const double radius : o.radii) {
        AttackOptions a;
        a.norm = o.norm;
        a.modalities = {m};
        a.radius = radius;
        a.steps = o.steps;
        a.relative = o.relative;
        run({kind, report.modalities[m], radius, {}, 0, o.relative},
            [a](ModalityModel& attacked, const Batch& b, std::uint64_t) {
              return attack(attacked, b, a);
            });
      }
    }
  }
  if (o.lipschitz.defined()) certified_conditions(model, data, o, report);
  if (o.missing) {
    const std::vector<at::Tensor> means = mean_inputs(data, o.batch);
    const Batch first = data.load({0}, false, 0);
    for (std::size_t m = 0; m < modalities; ++m) {
      const std::string& name = report.modalities[m];
      const auto with = [m](Corruption c) {
        c.modality = m;
        return
            [c](ModalityModel&, const Batch& b, std::uint64_t seed) { return corrupt(b, c, seed); };
      };
      run({"zeros", name, 0, {}, 0}, with({CorruptionKind::Zeros, 0, 0, {}}));
      run({"mean", name, 0, {}, 0}, with({CorruptionKind::Mean, 0, 0, means[m]}));
      // Seconds exist where an input is [B, T, ...] with more than a feature vector per sample.
      if (first.inputs[m].dim() >= 3 && o.drop_fraction > 0) {
        run({"drop", name, o.drop_fraction, {}, 0},
            with({CorruptionKind::DroppedSeconds, 0, o.drop_fraction, {}}));
      }
    }
  }
  for (const double snr : o.snr_db) {
    for (std::size_t m = 0; m < modalities; ++m) {
      const Corruption c{CorruptionKind::Noise, m, snr, {}};
      run({"noise", report.modalities[m], snr, {}, 0},
          [c](ModalityModel&, const Batch& b, std::uint64_t seed) { return corrupt(b, c, seed); });
    }
  }
  if (o.quality_probability > 0) {
    const double p = o.quality_probability;
    run({"quality", "", p, {}, 0},
        [p, modalities](ModalityModel&, const Batch& b, std::uint64_t seed) {
          return vary_quality(b, {CorruptionKind::Zeros, 0, 0, {}}, modalities, p, seed);
        });
  }
  return report;
}

std::vector<double> group_accuracy(const at::Tensor& correct,
                                   const std::vector<std::string>& groups,
                                   const std::vector<std::string>& order) {
  if (static_cast<std::int64_t>(groups.size()) != correct.numel())
    throw std::invalid_argument("group_accuracy: one group per sample");
  std::map<std::string, std::pair<std::int64_t, std::int64_t>> counts;  // right, all
  const at::Tensor c = correct.to(torch::kBool).contiguous();
  const bool* right = c.data_ptr<bool>();
  for (std::size_t i = 0; i < groups.size(); ++i) {
    auto& [r, n] = counts[groups[i]];
    r += right[i] ? 1 : 0;
    ++n;
  }
  std::vector<double> out;
  for (const std::string& g : order) {
    const auto it = counts.find(g);
    out.push_back(it == counts.end() || it->second.second == 0
                      ? 0.0
                      : static_cast<double>(it->second.first) /
                            static_cast<double>(it->second.second));
  }
  return out;
}

nlohmann::ordered_json to_json(const RobustReport& report,
                               const std::vector<std::string>& groups,
                               const std::vector<std::string>& order) {
  nlohmann::ordered_json conditions = nlohmann::ordered_json::array();
  for (const RobustCondition& c : report.conditions) {
    nlohmann::ordered_json row = {{"kind", c.kind},     {"modality", c.modality},
                                  {"amount", c.amount}, {"relative", c.relative},
                                  {"label", c.label()}, {"accuracy", c.accuracy}};
    if (!groups.empty()) {
      const std::vector<double> per = group_accuracy(c.correct, groups, order);
      nlohmann::ordered_json g = nlohmann::ordered_json::object();
      for (std::size_t k = 0; k < order.size(); ++k)
        g[order[k]] = per[k];
      row["groups"] = g;
    }
    conditions.push_back(row);
  }
  nlohmann::ordered_json out = {
      {"modalities", report.modalities},
      {"norm", to_string(report.norm)},
      {"steps", report.steps},
      {"samples", report.conditions.empty() ? 0 : report.conditions.front().correct.numel()},
      {"conditions", conditions}};
  return out;
}

std::string to_markdown(const RobustReport& report,
                        const std::vector<std::string>& groups,
                        const std::vector<std::string>& order) {
  if (report.conditions.empty()) return "";
  const double clean = report.conditions.front().accuracy;
  std::string out = "| condition | accuracy | change |";
  std::string rule = "|---|---|---|";
  for (const std::string& g : order) {
    out += " " + g + " |";
    rule += "---|";
  }
  out += "\n" + rule + "\n";
  for (const RobustCondition& c : report.conditions) {
    char change[32] = "";
    if (c.kind != "clean")
      std::snprintf(change, sizeof change, "%+.2f", 100 * (c.accuracy - clean));
    out += "| " + c.label() + " | " + percent(c.accuracy) + " | " + change + " |";
    if (!groups.empty()) {
      for (const double a : group_accuracy(c.correct, groups, order))
        out += " " + percent(a) + " |";
    }
    out += "\n";
  }
  return out;
}

}  // namespace avqa::train
