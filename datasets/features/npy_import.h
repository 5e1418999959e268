#pragma once

#include <filesystem>

#include "datasets/features/extractor.h"
#include "datasets/features/feature_cache.h"

namespace avqa::features {

/// `avqa import-npy`: the original per-video .npy features into a feature cache.
struct ImportOptions {
  std::filesystem::path audio_dir;  ///< <video_id>.npy of [T, 128] (VGGish); empty: no audio
  std::filesystem::path
      visual_dir;  ///< <video_id>.npy of [T, 512, 14, 14] or any [T, ...]; empty: no visual
  std::filesystem::path out;
  StorageType storage = StorageType::Float16;
  double fps = 1.0;  ///< what one row of the arrays stands for
  bool progress = true;
};

/// Videos are the file names found in either folder. The first file of each folder fixes T and
/// the per-segment shape; a video whose file is missing, malformed or of another shape is
/// reported (file and reason) and marked failed, the others are imported. The cache records the
/// features as imported, of unknown weights.
ExtractSummary import_npy(const ImportOptions& options);

}  // namespace avqa::features
