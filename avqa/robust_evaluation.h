#pragma once

#include <array>
#include <filesystem>
#include <functional>
#include <string>
#include <utility>
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
/// accuracy at radius 0, and for a CRMT run its certified accuracy dashed (640 x 380). Throws
/// std::invalid_argument when `report` holds no attack.
void write_attack_plot(const train::RobustReport& report, const std::filesystem::path& png);

/// One line of a radius plot: (radius, accuracy in [0, 1]) points.
struct RadiusSeries {
  std::string name;
  std::vector<std::pair<double, double>> points;
  std::array<int, 3> rgb{60, 60, 60};
  bool dashed = false;
};
/// Audio orange, visual blue, anything else grey: the colours of every plot of modalities (RGB).
std::array<int, 3> modality_colour(const std::string& modality);
/// Accuracy (0-100 %) against radius, a line per series with its legend, `title` on top.
void write_radius_plot(const std::vector<RadiusSeries>& series,
                       bool relative,
                       const std::string& title,
                       const std::filesystem::path& png);

}  // namespace avqa::net
