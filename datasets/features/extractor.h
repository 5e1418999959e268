#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <ATen/core/Tensor.h>

#include "datasets/features/backbones.h"
#include "datasets/features/feature_cache.h"
#include "datasets/media/media_reader.h"

namespace avqa::features {

/// Everything `avqa extract` takes.
struct ExtractOptions {
  std::vector<std::filesystem::path> videos;  ///< video id = file name without extension
  std::filesystem::path out;                  ///< the HDF5 cache
  /// "resnet18" (14x14 maps, ST-AVQA's), "resnet18-7x7", "torchscript:FILE" or "none".
  std::string visual = "resnet18";
  std::filesystem::path visual_weights;  ///< empty: random initialisation, recorded as such
  /// "vggish", "torchscript:FILE" or "none".
  std::string audio = "vggish";
  std::filesystem::path audio_weights;
  Normalization normalization = Normalization::Kinetics;
  media::SamplingOptions sampling;  ///< segments, fps, frame size, sample rate
  StorageType storage = StorageType::Float16;
  int jobs = 0;  ///< decoding threads; 0 = all CPUs
  /// Frames per visual backbone call: ResNet-18's 14x14 activations of a few frames stay in
  /// cache (2 threads: 13.4 ms per frame at 4, 16.3 ms at 16).
  int batch = 4;
  int audio_batch = 64;  ///< audio examples per audio backbone call (VGGish prefers large)
  bool resume = false;   ///< finish an existing cache instead of refusing it
  bool progress = true;
  std::uint64_t seed = 0;  ///< random initialisation when there are no weights
};

struct ExtractSummary {
  std::size_t extracted = 0;
  std::size_t skipped = 0;                                    ///< already done in a resumed cache
  std::vector<std::pair<std::string, std::string>> failures;  ///< video id, reason
  std::vector<std::string> weights;  ///< "visual: ...", "audio: ..." for the user to see
  double seconds = 0;
};

/// The video files of a folder (mp4, mkv, avi, mov, webm), sorted; or of a list file (one path
/// per line, relative to the list's folder; blank lines and '#' comments skipped).
std::vector<std::filesystem::path> list_videos_in(const std::filesystem::path& folder);
std::vector<std::filesystem::path> read_video_list(const std::filesystem::path& list);

/// The backbones of an extraction applied to one clip at a time: what `extract_features` runs
/// on every video, and what answering a question about a new video needs.
class ClipFeatureExtractor {
 public:
  /// Builds the backbones of `options` (visual, audio, weights, seed, frame size, batch).
  explicit ClipFeatureExtractor(const ExtractOptions& options);
  ~ClipFeatureExtractor();
  ClipFeatureExtractor(const ClipFeatureExtractor&) = delete;
  ClipFeatureExtractor& operator=(const ClipFeatureExtractor&) = delete;

  /// What each backbone produces per segment and which weights made it.
  const std::vector<ModalityLayout>& modalities() const;
  /// [segments x segment_size] per modality; with `only`, just those modalities (the others'
  /// backbones do not run).
  VideoFeatures extract(const media::SampledClip& clip, const std::vector<std::string>& only = {});

  /// What the backbones read of `clip`: "visual" normalised frames [T, 3, S, S], "audio" log-mel
  /// examples [T, 1, 96, 64] (the modalities this extractor has). What an attack on the decoded
  /// video perturbs.
  std::map<std::string, at::Tensor> backbone_inputs(const media::SampledClip& clip) const;
  /// The box modality `name`'s backbone input lives in, as {lowest, highest} broadcastable to one
  /// segment's input: "visual" frames hold pixels 0..255 before normalisation ([3, 1, 1] each);
  /// none for "audio" (a log-mel example has no hard bounds). An attack on decoded frames is
  /// clamped to it, so what it reports could be shown on a screen.
  std::optional<std::pair<at::Tensor, at::Tensor>> input_range(const std::string& name) const;
  /// Modality `name`'s features of its backbone input, with autograd where the input requires
  /// gradients: [T, segment_size...] as extract() gives them (float).
  at::Tensor features_of(const std::string& name, const at::Tensor& input);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

/// Writes `failures` to <cache>.failures.json (atomically): [{"video_id", "reason"}, ...].
void write_failure_report(const std::filesystem::path& cache,
                          const std::vector<std::pair<std::string, std::string>>& failures);

/// Decodes in parallel, runs the backbones in batches and writes each video to the cache as
/// soon as it is done. A bad video is reported and skipped, the others go on; the failures are
/// also written next to the cache as <out>.failures.json. Killed at any moment, the cache stays
/// readable and `resume` finishes it, redoing only the videos that were in flight.
ExtractSummary extract_features(const ExtractOptions& options);

}  // namespace avqa::features
