#pragma once

#include <filesystem>

#include "datasets/features/extractor.h"
#include "datasets/synthetic/generator.h"

namespace avqa::testing {

/// A tiny generated dataset in <dir>/data, for tests that need real videos, annotations and truth.
inline void generate_tiny_dataset(const std::filesystem::path& dir,
                                  int videos,
                                  int seconds,
                                  std::uint64_t seed,
                                  std::array<double, 3> split = {0.5, 0.5, 0.0},
                                  int questions_per_video = 8) {
  synthetic::GeneratorOptions g;
  g.out = dir / "data";
  g.videos = videos;
  g.scene.seconds = seconds;
  g.seed = seed;
  g.split = split;
  g.questions_per_video = questions_per_video;
  g.progress = false;
  synthetic::generate_dataset(g);
}

/// Its features in <dir>/data/features.h5: random backbones at 64 px (4x4 maps), fast.
inline features::ExtractOptions extract_tiny_features(
    const std::filesystem::path& dir,
    int segments,
    double fps = 1.0,
    features::StorageType storage = features::StorageType::Float16) {
  features::ExtractOptions x;
  x.sampling.fps = fps;
  x.storage = storage;
  x.videos = features::list_videos_in(dir / "data/videos");
  x.out = dir / "data/features.h5";
  x.sampling.segments = segments;
  x.sampling.frame_size = 64;
  x.progress = false;
  features::extract_features(x);
  return x;
}

}  // namespace avqa::testing
