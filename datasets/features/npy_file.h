#pragma once

#include <cstdint>
#include <filesystem>
#include <vector>

namespace avqa::features {

/// A NumPy .npy array read as float32 (the original MUSIC-AVQA features: VGGish [T, 128],
/// res18_14x14 [T, 512, 14, 14]).
struct NpyArray {
  std::vector<std::uint64_t> shape;
  std::vector<float> values;  ///< C order
};

/// Reads a .npy file (format versions 1.0, 2.0, 3.0; little- or big-endian float16/32/64,
/// C order). Every header field is validated; a malformed or truncated file throws
/// core::InputError naming the file and the field. Nothing is ever evaluated.
NpyArray read_npy(const std::filesystem::path& path);

/// Writes float32 values as a version 1.0 .npy file (for tests and exports).
void write_npy(const std::filesystem::path& path,
               const std::vector<std::uint64_t>& shape,
               const std::vector<float>& values);

}  // namespace avqa::features
