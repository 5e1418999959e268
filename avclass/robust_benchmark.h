#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

// `avqa bench robust`: joint training against the robust training methods (CRMT, adversarial
// training, ...) x several seeds, each run scored on the test split by robust-eval: clean, l2 PGD
// on each modality at several radii (a share of each input's norm), each modality missing, a random
// modality lost per sample, and CRMT's certified accuracy. On a generated classification set and,
// shorter, on ST-AVQA. Writes a Markdown table (mean +- sd over seeds) with the summary
// (the preferred modality, the radius where joint training loses half its accuracy, each method
// there) and a PNG of accuracy against radius per modality.
namespace avqa::avclass {

struct RobustBenchmarkOptions {
  std::filesystem::path data;   ///< generated dataset folder (annotations/class-*.csv)
  std::filesystem::path cache;  ///< its feature cache
  std::filesystem::path out;    ///< runs, robust-table.md, robust.png (and -avqa variants)
  std::vector<std::string> methods{"none", "crmt", "adv"};  ///< --robust values; none = joint
  int seeds = 3;
  /// Classification: the balance benchmark's recipe (SGD, momentum 0.9, lr 1e-2, wd 1e-4,
  /// width 128, mean-max pooling, 60 epochs at a constant rate).
  int epochs = 60;
  int batch = 32;
  double learning_rate = 1e-2;
  double weight_decay = 1e-4;
  std::int64_t classifier_width = 128;
  std::string visual_pooling = "mean-max";
  double adv_radius = 0.05;  ///< adv and crmt-at: the training attack's radius (share of the norm)
  std::string adv_ball = "joint";  ///< adv and crmt-at: --robust-ball of the runs
  double adv_share = 1.0;          ///< adv and crmt-at: --robust-share of the runs
  double adv_clean_weight = 0.0;   ///< adv and crmt-at: --robust-clean-weight of the runs
  std::string adv_modalities;      ///< adv and crmt-at: --robust-modalities of the runs ("": all)
  /// The crmt methods' initial integration weights: 1, not the original's 0.1, with which 60 SGD
  /// epochs leave the head underfitted (measured: README, robustness).
  double crmt_init = 1.0;
  std::vector<double> radii{0.02, 0.05, 0.1, 0.2};  ///< evaluation attacks, shares of the norm
  int steps = 4;                                    ///< PGD steps of the evaluation attacks
  /// ST-AVQA: a run configuration (the demo's build/demo/run/run.json) retrained per method x
  /// seed for avqa_epochs and scored on the test file beside its training file. Empty: skipped.
  std::filesystem::path avqa_config;
  int avqa_epochs = 6;
  int avqa_seeds = 3;
  bool progress = true;
};

/// One condition of robust-eval, over seeds.
struct RobustBenchmarkCondition {
  std::string label;     ///< RobustCondition::label()
  std::string kind;      ///< "clean", "pgd-l2", "certified", "zeros", ...
  std::string modality;  ///< "" for clean, quality and certified on all inputs
  double amount = 0;
  std::vector<double> accuracy;  ///< per seed
};

struct RobustBenchmarkRow {
  std::string method;
  std::vector<RobustBenchmarkCondition> conditions;  ///< robust-eval's order
  std::vector<double> seconds_per_epoch;             ///< per seed, phase 1
};

struct RobustBenchmark {
  std::string task;  ///< "classification" or "ST-AVQA"
  std::vector<RobustBenchmarkRow> rows;
};

/// Trains what is missing (runs resume), scores each run (kept as <run>/robust-test.json, reused
/// while newer than its best.pt), writes robust-table.md and robust-<modality>.png into
/// options.out.
RobustBenchmark run_robust_benchmark(const RobustBenchmarkOptions& options);
/// The same on ST-AVQA (robust-table-avqa.md, robust-avqa-<modality>.png); crmt-mix is skipped
/// there.
RobustBenchmark run_avqa_robust_benchmark(const RobustBenchmarkOptions& options);

/// The table: a row per condition, a column per method (mean +- sd, %), then the summary.
std::string robust_benchmark_markdown(const RobustBenchmark& benchmark);
/// Per attacked modality, <png stem>-<modality>.png: accuracy against radius, a line per method
/// (mean over seeds), CRMT's certified accuracy dashed.
void write_robust_benchmark_plot(const RobustBenchmark& benchmark,
                                 const std::filesystem::path& png);

}  // namespace avqa::avclass
