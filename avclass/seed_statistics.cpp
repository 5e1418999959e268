#include "avclass/seed_statistics.h"

#include <cmath>
#include <cstdio>
#include <numeric>

namespace avqa::avclass {

double seed_mean(const std::vector<double>& x) {
  return x.empty() ? 0 : std::accumulate(x.begin(), x.end(), 0.0) / static_cast<double>(x.size());
}

double seed_stddev(const std::vector<double>& x) {
  if (x.size() < 2) return 0;
  const double m = seed_mean(x);
  double s = 0;
  for (const double v : x)
    s += (v - m) * (v - m);
  return std::sqrt(s / static_cast<double>(x.size() - 1));
}

std::string mean_sd(const std::vector<double>& x, double scale) {
  char text[64];
  std::snprintf(text, sizeof text, "%.1f ± %.1f", scale * seed_mean(x), scale * seed_stddev(x));
  return text;
}

double seconds_per_epoch(const std::vector<train::EpochMetrics>& metrics) {
  double seconds = 0;
  for (const auto& m : metrics)
    seconds += m.seconds;
  return metrics.empty() ? 0 : seconds / static_cast<double>(metrics.size());
}

}  // namespace avqa::avclass
