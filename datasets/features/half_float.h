#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>

namespace avqa::features {

/// IEEE 754 binary16 <-> binary32, round to nearest even; what the cache stores for float16.
inline std::uint16_t float_to_half(float value) {
  std::uint32_t x;
  std::memcpy(&x, &value, sizeof x);
  const std::uint32_t sign = (x >> 16) & 0x8000u;
  const std::uint32_t abs = x & 0x7FFFFFFFu;
  if (abs >= 0x7F800000u)
    return static_cast<std::uint16_t>(sign | (abs > 0x7F800000u ? 0x7E00u : 0x7C00u));
  if (abs >= 0x477FF000u)
    return static_cast<std::uint16_t>(sign | 0x7C00u);  // overflows to infinity
  if (abs < 0x38800000u) {                              // subnormal or zero
    // Units of 2^-24; exact in float, nearbyint rounds half to even.
    const float magnitude = std::fabs(value) * 16777216.0f;
    return static_cast<std::uint16_t>(sign | static_cast<std::uint32_t>(std::nearbyint(magnitude)));
  }
  const std::uint32_t rounded =
      abs + 0x0FFFu + ((abs >> 13) & 1u) - 0x38000000u;  // rebias, round to even
  return static_cast<std::uint16_t>(sign | (rounded >> 13));
}

inline float half_to_float(std::uint16_t h) {
  const std::uint32_t sign = static_cast<std::uint32_t>(h & 0x8000u) << 16;
  std::uint32_t exponent = (h >> 10) & 0x1Fu;
  std::uint32_t mantissa = h & 0x3FFu;
  std::uint32_t bits;
  if (exponent == 0x1F) {
    bits = sign | 0x7F800000u | (mantissa << 13);
  } else if (exponent == 0) {
    if (mantissa == 0) {
      bits = sign;
    } else {  // subnormal: normalise
      exponent = 113;
      while ((mantissa & 0x400u) == 0) {
        mantissa <<= 1;
        --exponent;
      }
      bits = sign | (exponent << 23) | ((mantissa & 0x3FFu) << 13);
    }
  } else {
    bits = sign | ((exponent + 112) << 23) | (mantissa << 13);
  }
  float out;
  std::memcpy(&out, &bits, sizeof out);
  return out;
}

/// Converts `n` halves; vectorised where the processor has F16C (every AVX2 machine).
void half_to_float_n(const std::uint16_t* in, float* out, std::size_t n);

}  // namespace avqa::features
