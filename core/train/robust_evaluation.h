#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include <ATen/core/Tensor.h>
#include <nlohmann/json_fwd.hpp>

#include "core/train/modality_model.h"
#include "core/train/perturbation.h"
#include "core/train/trainer.h"

// A robustness evaluation of any ModalityModel: accuracy on a split when clean, under attacks on
// each modality at several radii, with each modality missing (zeros, the split's mean input, half
// of the seconds dropped), under noise at several signal-to-noise ratios, and with a random
// modality degraded per sample. Every condition keeps which samples it answered right, so a task
// can split the accuracy by its own groups (AVQA: question types).
namespace avqa::train {

struct RobustEvalOptions {
  AttackNorm norm = AttackNorm::L2;
  std::vector<double> radii{0.5, 1.0, 2.0};  ///< attack radii, per modality
  bool relative = false;  ///< radii as fractions of each sample's input norm (AttackOptions)
  int steps = 4;          ///< PGD iterations (rob_test.py: 4, step radius / 3)
  bool attacks = true;
  bool missing = true;                    ///< zeros, mean, dropped seconds
  double drop_fraction = 0.5;             ///< of the seconds, for inputs [B, T, ...]
  std::vector<double> snr_db{20, 10, 0};  ///< Gaussian noise per modality
  double quality_probability = 0.5;       ///< samples with a random modality zeroed
  int batch = 64;
  std::uint64_t seed = 1;
  /// A CRMT run's Lipschitz constants [M, M, C] (crmt.json): adds the certified accuracy at each
  /// radius (l2, all inputs together and each alone; relative radii against the same norms the
  /// attacks use). Undefined: none.
  at::Tensor lipschitz;
};

/// One condition of the evaluation.
struct RobustCondition {
  /// "clean", "pgd-l2" / "fgm-linf" ..., "certified", "zeros", "mean", "drop", "noise",
  /// "quality"
  std::string kind;
  std::string modality;  ///< a modality's name, or "" (clean, quality, certified on all inputs)
  double amount = 0;     ///< radius, fraction, SNR dB, probability; 0 where none
  at::Tensor correct;    ///< [N] bool, dataset order
  double accuracy = 0;
  bool relative = false;      ///< attacks: the radius a fraction of each sample's input norm
  std::string label() const;  ///< "pgd-l2 audio 0.5", "noise visual 10 dB", ...
};

struct RobustReport {
  std::vector<std::string> modalities;
  AttackNorm norm = AttackNorm::L2;
  int steps = 0;
  std::vector<RobustCondition> conditions;  ///< clean first
};

/// The mean input of each modality over `data` (one sample's shape each).
std::vector<at::Tensor> mean_inputs(const TrainingData& data, int batch);

/// Every condition `options` asks for, in order; `progress` is told each condition's label
/// before it runs.
RobustReport robust_evaluate(ModalityModel& model,
                             const TrainingData& data,
                             const RobustEvalOptions& options,
                             const std::function<void(const std::string&)>& progress = {});

/// Accuracy per group of samples: `groups[i]` names sample i's group, `order` the groups' order
/// (groups not listed are left out).
std::vector<double> group_accuracy(const at::Tensor& correct,
                                   const std::vector<std::string>& groups,
                                   const std::vector<std::string>& order);

/// JSON: {modalities, norm, steps, conditions: [{kind, modality, amount, accuracy, groups?}]};
/// with groups, each condition's accuracy per group as well.
nlohmann::ordered_json to_json(const RobustReport& report,
                               const std::vector<std::string>& groups = {},
                               const std::vector<std::string>& order = {});
/// A Markdown table: a row per condition, accuracy overall and per group (when given), and the
/// drop from clean.
std::string to_markdown(const RobustReport& report,
                        const std::vector<std::string>& groups = {},
                        const std::vector<std::string>& order = {});

}  // namespace avqa::train
