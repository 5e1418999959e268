#pragma once

#include <array>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "datasets/synthetic/scene.h"
#include "datasets/synthetic/truth.h"

namespace avqa::synthetic {

/// 2: sounding, loudness and onsets measured as a listener hears them (gaps between notes,
/// mean power, spectral onsets), entry order with off-screen sources, ensembles, voiceovers.
inline constexpr int kGeneratorVersion = 2;

/// Everything `avqa generate` takes. The same options give byte-identical annotations, truth
/// and manifest, and identical decoded frames and audio samples.
struct GeneratorOptions {
  std::filesystem::path out;  ///< dataset folder
  int videos = 50;
  std::uint64_t seed = 1;
  SceneParams scene;  ///< duration, frame size, instruments, difficulty knobs
  int video_fps = 8;
  int sample_rate = 16000;
  std::array<double, 3> split{0.7, 0.1, 0.2};  ///< train, val, test shares of the videos
  int questions_per_video = 8;
  int jobs = 0;                     ///< worker threads; 0 = all CPUs
  bool overwrite = false;           ///< replace the generator's outputs in a non-empty folder
  std::filesystem::path soundfont;  ///< empty = Debian's FluidR3_GM
  std::filesystem::path instrument_table;  ///< empty = the built-in resources/instruments.json
  std::string video_prefix = "syn";
  /// > 0: classification mode with this many classes (the table's first instruments): each clip
  /// has one sounding instrument, its label, and annotations/class-{train,val,test}.csv
  /// (video_id,label) plus classes.txt are written beside the question files.
  /// scene.imbalance chooses the ambiguous modality (sample_classification_scene).
  int classes = 0;
  bool progress = true;  ///< print a progress line on stderr
};

struct GenerationSummary {
  int videos = 0;
  std::array<int, 3> videos_per_split{};
  std::array<int, 3> questions_per_split{};
  double seconds = 0;  ///< wall time
};

/// Checks the options; throws std::invalid_argument naming the bad option.
void validate(const GeneratorOptions& options);

/// The truth of clips 0..count-1 exactly as generate_dataset(options) measures it (same seed,
/// same scenes, same stems), without drawing frames or writing files: checks of the question
/// logic over hundreds of clips take seconds instead of minutes.
std::vector<SceneTruth> measure_truths(const GeneratorOptions& options, int count);

/// Generates the dataset into options.out:
///   videos/<id>.mp4                H.264 + AAC
///   annotations/avqa-{train,val,test}.json   MUSIC-AVQA schema, split by video
///   truth/<id>.json                who is where, who sounds when and how loud (measured)
///   manifest.json                  seed, version, parameters, soundfont hash, counts, balance
///   annotations/class-*.csv, classes.txt   classification mode only (options.classes > 0)
/// Every file is written to a temporary name and renamed, annotations and manifest last.
GenerationSummary generate_dataset(const GeneratorOptions& options);

}  // namespace avqa::synthetic
