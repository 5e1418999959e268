#pragma once

#include <string>
#include <vector>

#include "core/train/epoch_metrics.h"

// What the benchmarks report of a figure measured once per seed, and of a run's epochs.
namespace avqa::avclass {

double seed_mean(const std::vector<double>& x);    ///< 0 for none
double seed_stddev(const std::vector<double>& x);  ///< sample sd; 0 for fewer than two
/// "mean ± sd" of x times `scale`, one decimal (scale 100: shares as %).
std::string mean_sd(const std::vector<double>& x, double scale = 100);
/// Mean seconds per epoch of a run's metrics; 0 for none.
double seconds_per_epoch(const std::vector<train::EpochMetrics>& metrics);

}  // namespace avqa::avclass
