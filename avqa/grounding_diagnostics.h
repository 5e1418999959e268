#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

// Why does the attention not point at the sounding instrument? Diagnostics that separate the
// suspects on generated data, where the truth says who is where: first, whether the visual
// features of one cell know that an instrument is in that cell at all.
namespace avqa::synthetic {
struct SceneTruth;
}

namespace avqa::net {

/// A visible instrument's box at one second of a generated clip (its truth), in the pixels
/// of a frame `scale` times the video's, and whether it sounds then.
struct TruthBox {
  double x0 = 0, y0 = 0, x1 = 0, y1 = 0;
  bool sounding = false;
  bool contains(double x, double y) const { return x >= x0 && x < x1 && y >= y0 && y < y1; }
};
std::vector<TruthBox> truth_boxes(const synthetic::SceneTruth& truth,
                                  std::size_t second,
                                  double scale);

/// A generated dataset's truth/ folder as `avqa generate` lays it out: beside the folder that holds
/// `annotations` (DIR/annotations/avqa-test.json -> DIR/truth).
std::filesystem::path truth_folder_beside(const std::filesystem::path& annotations);

/// Which cells of a rows x cols grid over a width x height frame have their centre inside one of
/// `boxes`: 1 or 0 per cell, row-major.
std::vector<float> cells_inside(
    const std::vector<TruthBox>& boxes, int rows, int cols, double width, double height);

/// Where a generated clip's sound comes from, as the spatial attention's truth: for each of
/// `seconds`, the cells of a rows x cols grid over the frame whose centre lies in the box of a
/// visible instrument sounding then ([seconds.size() * rows * cols], row-major; a second with no
/// visible instrument sounding is all zeros).
std::vector<float> sounding_cells(const synthetic::SceneTruth& truth,
                                  const std::vector<int>& seconds,
                                  int rows,
                                  int cols);

struct CellProbeOptions {
  /// Label a cell positive when its centre lies in a *sounding* visible instrument's box rather
  /// than any visible instrument's: whether one frame's features can tell who plays.
  bool sounding_only = false;
  int epochs = 20;
  int batch = 512;
  double learning_rate = 1e-2;
  std::uint64_t seed = 1;
};

struct CellProbeReport {
  std::size_t train_cells = 0, test_cells = 0;
  double positive_share = 0;     ///< test cells inside a box (the label's base rate)
  double balanced_accuracy = 0;  ///< mean of the recalls of inside and outside cells
  double auc = 0;                ///< area under the ROC curve of the probe's score
  /// Test segments with a box: share whose highest-scoring cell lies inside one, and the same
  /// for a uniformly random cell (the boxes' share of the cells).
  double peak_hit = 0;
  double peak_chance = 0;
  std::size_t peak_segments = 0;
};

/// A linear probe (logistic regression, class-balanced) on single cells of the cached visual
/// maps [T, C, G, G] of the feature cache file `cache`: trained on `train_videos`' cells, scored on
/// `test_videos`'. The cell (i, j) is labelled by whether its centre lies in a truth box
/// (`truth_dir`/<id>.json) at the segment's second.
CellProbeReport probe_cells(const std::filesystem::path& cache,
                            const std::filesystem::path& truth_dir,
                            const std::vector<std::string>& train_videos,
                            const std::vector<std::string>& test_videos,
                            const CellProbeOptions& options = {});

std::string format_cell_probe(const CellProbeReport& report, const CellProbeOptions& options);

/// Does the audio feature know which instruments sound? The query of the audio-guided attention
/// is a projection of it: what it cannot tell apart, the attention cannot point at.
struct AudioProbeOptions {
  int epochs = 100;
  int batch = 256;
  double learning_rate = 1e-2;
  std::uint64_t seed = 1;
};

struct AudioProbeReport {
  std::size_t train_seconds = 0, test_seconds = 0;
  double macro_auc = 0;  ///< mean over the instruments that sound in some test seconds, not all
  std::size_t classes_scored = 0;
  /// Test seconds with something sounding: share whose highest-scoring instrument sounds then,
  /// and the same for an instrument drawn uniformly from the 22.
  double top_hit = 0;
  double top_chance = 0;
  std::size_t top_seconds = 0;
};

/// A linear probe (22-way multi-label logistic regression) on the cached audio features [T, D] of
/// `cache`, learning from `train_videos`' seconds which instruments sound in each (the truth's
/// sounding_per_second, off-screen ones included), scored on `test_videos`'.
AudioProbeReport probe_audio(const std::filesystem::path& cache,
                             const std::filesystem::path& truth_dir,
                             const std::vector<std::string>& train_videos,
                             const std::vector<std::string>& test_videos,
                             const AudioProbeOptions& options = {});

std::string format_audio_probe(const AudioProbeReport& report);

}  // namespace avqa::net
