#include "datasets/features/half_float.h"

#include <immintrin.h>

namespace avqa::features {
namespace {

__attribute__((target("f16c,avx"))) void half_to_float_f16c(const std::uint16_t* in,
                                                            float* out,
                                                            std::size_t n) {
  std::size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(in + i));
    _mm256_storeu_ps(out + i, _mm256_cvtph_ps(h));
  }
  for (; i < n; ++i)
    out[i] = half_to_float(in[i]);
}

bool has_f16c() {
  static const bool yes = __builtin_cpu_supports("f16c") && __builtin_cpu_supports("avx");
  return yes;
}

}  // namespace

void half_to_float_n(const std::uint16_t* in, float* out, std::size_t n) {
  if (has_f16c()) {
    half_to_float_f16c(in, out, n);
    return;
  }
  for (std::size_t i = 0; i < n; ++i)
    out[i] = half_to_float(in[i]);
}

}  // namespace avqa::features
