#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "core/train/balance.h"

// `avqa bench balance`: every balance method x several seeds on a generated classification set
// (`avqa generate --classes N --imbalance X`, features by `avqa extract`), trained on the train
// split, the best epoch chosen on val, scored on test. Prints a Markdown table and draws a PNG.
namespace avqa::avclass {

struct BalanceBenchmarkOptions {
  std::filesystem::path data;   ///< generated dataset folder (annotations/class-*.csv)
  std::filesystem::path cache;  ///< its feature cache
  std::filesystem::path out;    ///< runs, table.md, accuracy.png
  std::vector<train::BalanceMethod> methods = train::balance_methods();
  int seeds = 3;
  int epochs = 60;
  int batch = 32;
  /// OGM-GE's optimiser (SGD, momentum 0.9, weight decay 1e-4) at ten times its rate: its 1e-3
  /// barely moves the small heads of cached features in 60 short epochs. Adam (the TPAMI and
  /// valuation code's) rescales every parameter's step by its own gradient history, which undoes
  /// most of what OGM's gradient coefficients do (measured: README, balanced learning).
  std::string optimizer = "sgd";
  double learning_rate = 1e-2;
  double weight_decay = 1e-4;
  std::int64_t classifier_width = 128;
  std::string fusion = "concat";
  std::string visual_pooling = "mean-max";
  /// Method settings scaled to the short runs: warm-up, modulation window and re-learning
  /// period in epochs (the papers' 5 / 0-50 / 20 are for 50-100 epoch runs).
  int warmup_epochs = 2;
  double ogm_alpha = 0.8;  ///< OGM-GE's README value for CREMA-D, the closest of its data sets
  int relearn_every = 5;
  bool progress = true;

  /// The shorter question-answering part: a run configuration of ST-AVQA on generated data
  /// (the demo's build/demo/run/run.json), retrained per method x seed for avqa_epochs and
  /// evaluated on the test file beside its training file, with grounding scores. Empty: skipped.
  std::filesystem::path avqa_config;
  int avqa_epochs = 2;
  int avqa_seeds = 3;
};

struct BalanceBenchmarkRow {
  train::BalanceMethod method;
  std::vector<double> accuracy;  ///< test accuracy per seed
  std::vector<double> macro_f1;
  std::vector<double> audio_alone, visual_alone;  ///< test uni-modal accuracy per seed
  std::vector<double> audio_probe, visual_probe;  ///< last epoch's val probes per seed
  std::vector<double> seconds_per_epoch;
  std::vector<double> pointing, temporal;  ///< question answering: grounding scores on test
};

/// Runs every method x seed (a finished run in out/ is reused, so an interrupted benchmark
/// continues where it stopped).
std::vector<BalanceBenchmarkRow> run_balance_benchmark(const BalanceBenchmarkOptions& options);
/// The question-answering part (options.avqa_config): ST-AVQA per method x seed; writes
/// table-avqa.md.
std::vector<BalanceBenchmarkRow> run_avqa_balance_benchmark(const BalanceBenchmarkOptions& options);

/// mean ± std (sample std over seeds) per column; the time column relative to joint training.
std::string balance_table_markdown(const std::vector<BalanceBenchmarkRow>& rows);
/// The question-answering table: test accuracy, each branch alone and its probe (validation, last
/// epoch), pointing and temporal grounding on test, time per epoch.
std::string avqa_balance_table_markdown(const std::vector<BalanceBenchmarkRow>& rows);
/// A bar chart of test accuracy (mean, ± std whiskers) and each modality alone per method.
void write_balance_plot(const std::vector<BalanceBenchmarkRow>& rows,
                        const std::filesystem::path& png);

}  // namespace avqa::avclass
