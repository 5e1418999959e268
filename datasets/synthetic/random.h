#pragma once

#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <utility>
#include <vector>

namespace avqa::synthetic {

/// SplitMix64 with the project's own mappings to ranges. The standard distributions are
/// implementation-defined, so a dataset generated from a seed would differ between standard
/// libraries; everything here is specified bit for bit.
class Rng {
 public:
  explicit Rng(std::uint64_t seed) : state_(seed) {}

  std::uint64_t next() {
    std::uint64_t z = (state_ += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
  }

  /// Uniform in [0, 1) with 53 random bits.
  double uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }
  double uniform(double lo, double hi) { return lo + (hi - lo) * uniform(); }

  /// Uniform integer in [lo, hi], unbiased (rejection of the top remainder).
  int integer(int lo, int hi) {
    if (hi < lo) throw std::invalid_argument("Rng::integer: empty range");
    const std::uint64_t span = static_cast<std::uint64_t>(hi) - static_cast<std::uint64_t>(lo) + 1;
    const std::uint64_t limit = UINT64_MAX - UINT64_MAX % span;
    std::uint64_t x = next();
    while (x >= limit)
      x = next();
    return lo + static_cast<int>(x % span);
  }

  bool chance(double p) { return uniform() < p; }

  template <typename T>
  const T& pick(const std::vector<T>& items) {
    if (items.empty()) throw std::invalid_argument("Rng::pick: empty list");
    return items[static_cast<std::size_t>(integer(0, static_cast<int>(items.size()) - 1))];
  }

  template <typename T>
  void shuffle(std::vector<T>& items) {
    for (std::size_t i = items.size(); i > 1; --i) {
      std::swap(items[i - 1], items[static_cast<std::size_t>(integer(0, static_cast<int>(i) - 1))]);
    }
  }

 private:
  std::uint64_t state_;
};

/// An independent seed for stream `index` of a dataset seeded with `seed` (one per clip), so
/// each clip depends only on (seed, index), whatever order the workers render them in.
inline std::uint64_t derive_seed(std::uint64_t seed, std::uint64_t index) {
  Rng mixer(seed ^ (0xD1B54A32D192ED03ULL * (index + 1)));
  mixer.next();
  return mixer.next();
}

}  // namespace avqa::synthetic
