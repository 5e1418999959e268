#pragma once

#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "avqa/evaluation.h"
#include "core/train/robust_evaluation.h"

// `avqa robust-eval`: a trained ST-AVQA run answers a split under the training core's attacks
// and corruptions (core/train/robust_evaluation.h), on the cached features: audio [T, 128] and
// visual maps [T, 512, H, W] of each question's segments. Accuracy overall and per question type.
namespace avqa::net {

struct RobustEvalRun {
  train::RobustReport report;
  std::vector<std::string> types;       ///< each question's type ("A-Count", ...), dataset order
  std::vector<std::string> type_order;  ///< the nine types in MUSIC-AVQA's order
};

/// `eval.run` on `eval.annotations` (cache: `eval.cache` or the run's) under `options`.
RobustEvalRun robust_evaluate_run(const EvalOptions& eval,
                                  const train::RobustEvalOptions& options,
                                  const std::function<void(const std::string&)>& progress = {});

/// A PNG of accuracy against the attack radius, one line per attacked modality, from the clean
/// accuracy at radius 0 (560 x 380). Throws std::invalid_argument when `report` holds no attack.
void write_attack_plot(const train::RobustReport& report, const std::filesystem::path& png);

}  // namespace avqa::net
