#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "avqa/st_avqa_net.h"
#include "datasets/annotations.h"
#include "datasets/features/feature_cache.h"

namespace avqa::net {

/// How the features a run learnt from were made: what answering a new video must repeat, kept
/// in the run so it answers without the training cache.
struct FeatureRecipe {
  struct Backbone {
    std::string modality;  ///< "audio" or "visual"
    std::string backbone;  ///< "vggish", "resnet18", "resnet18-7x7", "torchscript:<file>"
    std::string weights;   ///< "<file> sha256:<hex>", "random-init", or kUnknownWeights
    std::vector<std::uint64_t> segment_shape;  ///< e.g. {128} or {512, 14, 14}
  };
  /// Weights nobody recorded (features imported from .npy files): answering cannot check them.
  static constexpr const char* kUnknownWeights = "unknown";

  int segments = 60;  ///< sampled per video
  double fps = 1.0;   ///< segments per second
  int sample_rate = 16000;
  int frame_size = 224;
  std::string normalization = "kinetics";
  std::uint64_t seed = 0;  ///< the random initialisation of backbones without weights
  std::string source;      ///< what wrote the features ("avqa extract", "avqa import-npy", ...)
  std::vector<Backbone> backbones;

  /// What a cache records of its extraction.
  static FeatureRecipe of_cache(const features::CacheLayout& layout);
  /// The original release's features (VGGish + ResNet-18 14x14, 60 s at 1 fps, 224 px,
  /// Kinetics statistics), with weights nobody recorded.
  static FeatureRecipe original_release();
  const Backbone* find(const std::string& modality) const;
  /// The SHA-256 (hex) in a weights description "<file> sha256:<hex>"; empty when there is none
  /// (random-init, unknown): weights are compared by content, never by file name.
  static std::string sha256_of(const std::string& weights);
  /// The second of the video that segment row `row` shows.
  double seconds_of(int row) const { return row / fps; }
};

/// The rows of a video's `recorded` segments that a model of `model_segments` sees, spread
/// evenly: 0, 6, ..., 54 of 60 for the original's 10.
std::vector<int> model_segment_rows(int recorded, int model_segments);

/// <run>/config.json: everything answering needs besides best.pt and vocab.json.
struct RunConfig {
  StAvqaOptions widths;
  int segments = 10;  ///< segments the model sees
  bool question_only = false;
  /// the spatial attention was trained on the generator's truth boxes (a diagnostic upper bound):
  /// every report of the run's grounding says so
  bool truth_supervised = false;
  std::filesystem::path cache;  ///< the training cache (absolute once loaded); may be gone
  std::optional<FeatureRecipe> features;  ///< absent for question-only runs without a cache
};

/// Reads <run>/config.json; relative paths are relative to the run folder, so a moved run
/// still finds what moved with it. Throws core::InputError naming the file and the key.
RunConfig load_run_config(const std::filesystem::path& run);
/// Writes <run>/config.json atomically, the cache path relative to the run folder.
void save_run_config(const std::filesystem::path& run, const RunConfig& config);

/// The network of a run folder: widths from config.json, weights from best.pt.
StAvqaNet load_run_model(const std::filesystem::path& run);
/// The same with its config.json already read.
StAvqaNet load_run_model(const std::filesystem::path& run, const RunConfig& config);
/// A run folder's network, or a model file's (a best.pt, or an original checkpoint: widths from
/// its tensors' shapes).
StAvqaNet open_model(const std::filesystem::path& run_or_file);
/// Copies `net`'s parameters into `file` (a torch.save state-dict), or from it. Loading throws
/// core::InputError naming the file and the parameter that is missing or of another shape.
void save_model_weights(StAvqaNet& net, const std::filesystem::path& file);
void load_model_weights(StAvqaNet& net, const std::filesystem::path& file);

/// Backbone weights kept in <run>/weights/, so the run answers new videos on its own: copies
/// each file whose SHA-256 one of the recipe's backbones records. Throws core::InputError naming
/// a file that matches none. Returns the copies.
std::vector<std::filesystem::path> keep_backbone_weights(
    const std::filesystem::path& run,
    const FeatureRecipe& recipe,
    const std::vector<std::filesystem::path>& files);
/// The kept copy of `backbone`'s weights, when the run has one.
std::optional<std::filesystem::path> kept_backbone_weights(const std::filesystem::path& run,
                                                           const FeatureRecipe::Backbone& backbone);

/// `avqa import-checkpoint`: an original ST-AVQA checkpoint as a complete run folder.
struct ImportOptions {
  std::filesystem::path checkpoint;  ///< avst.pt (torch.save of the DataParallel state-dict)
  /// The training annotations the checkpoint was trained on: words and answers in order of
  /// first appearance, exactly as the original's dataloader builds them.
  std::filesystem::path train_annotations;
  std::filesystem::path vocab;  ///< or a vocabulary file (`avqa data vocab`) instead
  std::filesystem::path out;    ///< the run folder to write; must not hold a run
  int segments = 10;
  std::optional<FeatureRecipe> features;  ///< default: the original release's
};

struct ImportReport {
  std::size_t tensors = 0;          ///< loaded into the network
  std::vector<std::string> unused;  ///< in the file, not used by the forward pass
  std::size_t words = 0;
  std::size_t answers = 0;  ///< named; the head may be wider
  StAvqaOptions widths;
};

/// Writes config.json, vocab.json and best.pt into `out`; `avqa eval` and `avqa ask` open it.
/// The answer head is as wide as the checkpoint's (42) even when the training file names fewer
/// answers: the extra classes are named "<unused-K>". Throws core::InputError for a checkpoint
/// that does not fit the vocabulary (more words than its embedding rows).
ImportReport import_original_run(const ImportOptions& options);

}  // namespace avqa::net
