#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace avqa::features {

/// What ResNet-18 learns from the truth boxes.
enum class PretrainObjective {
  /// Which instruments a frame shows, from the mean of its feature map: any cell may carry the
  /// answer, so a cell of empty floor can come to say "a violin is somewhere here".
  Frames,
  /// That, plus which instruments each cell of the feature map lies on (a 1x1 head per cell;
  /// the cell's centre inside an instrument's box): cells learn to speak for themselves, as
  /// ImageNet features do, which the audio-guided attention needs to point anywhere.
  Cells,
};
PretrainObjective parse_pretrain_objective(const std::string& name);  ///< "frames" | "cells"
const char* to_string(PretrainObjective objective);

/// `avqa pretrain-backbones`: where no pretrained VGGish or ResNet-18 weights can be had, train
/// the built-in backbones on a generated dataset's ground truth: ResNet-18 to tell which
/// instruments are visible in a frame (and, with PretrainObjective::Cells, in each cell of its
/// feature map), VGGish which instruments sound in a second (22-way multi-label, binary
/// cross-entropy), through linear heads dropped afterwards.
struct PretrainOptions {
  std::filesystem::path
      data;  ///< a dataset written by `avqa generate` (videos/, truth/, annotations/)
  std::filesystem::path out;  ///< folder for resnet18.pt, vggish.pt and pretraining.json
  int epochs = 3;
  /// Passes over the training audio, when VGGish should train longer (or shorter) than ResNet-18:
  /// the epochs past the shorter count train one backbone alone. 0 = `epochs`.
  int audio_epochs = 0;
  int batch = 32;
  double learning_rate = 1e-4;
  double audio_learning_rate = 0;  ///< VGGish's Adam learning rate; 0 = `learning_rate`
  /// Share of each audio batch replaced by mixtures with another random second of the training
  /// set (log_mel.h's mix_log_mel), labelled with both seconds' instruments: new ensembles from the
  /// same clips, against learning a few hundred seconds by heart. 0 = off (as before the option).
  double audio_mix = 0;
  int frame_size = 112;  ///< training resolution (the trunk is convolutional: extract at any size)
  std::uint64_t seed = 0;
  int max_videos = 0;  ///< 0 = every training video
  /// More generated datasets to learn from, every video of each (all splits): a pretraining
  /// corpus, as ImageNet is for real data. `data` keeps its role (its train split is learnt, its
  /// val split scores); a corpus generated with `data`'s seed would repeat its test videos and is
  /// refused.
  std::vector<std::filesystem::path> corpora;
  PretrainObjective objective = PretrainObjective::Cells;
  bool progress = true;
};

struct PretrainEpoch {
  bool visual_trained = true;  ///< false past --epochs when --audio-epochs is larger
  bool audio_trained = true;   ///< false past --audio-epochs when --epochs is larger
  double visual_loss = 0;      ///< mean training BCE (0 where not trained that epoch)
  double audio_loss = 0;
  double visual_val_f1 = 0;  ///< micro F1 of the thresholded predictions on the val split
                             ///< (a backbone not trained that epoch keeps its last score)
  double audio_val_f1 = 0;
  double cell_loss = 0;    ///< PretrainObjective::Cells: mean training BCE of the cell head
  double cell_val_f1 = 0;  ///< and its micro F1 over the val split's cells
};

/// The targets of PretrainObjective::Cells for one frame: [grid, grid, classes] floats, 1 where
/// the centre of cell (i, j) of a grid x grid map over the frame lies in a box of that class.
/// Boxes are [x0, y0, x1, y1) in pixels of a frame `width` x `height`, labels < classes.
struct ClassBox {
  double x0 = 0, y0 = 0, x1 = 0, y1 = 0;
  std::int64_t label = 0;
};
std::vector<float> cell_targets(
    const std::vector<ClassBox>& boxes, int grid, double width, double height, int classes);

struct PretrainReport {
  std::vector<PretrainEpoch> epochs;
  std::filesystem::path visual_weights;
  std::filesystem::path audio_weights;
  std::size_t train_frames = 0;  ///< data's training frames plus every corpus's
  std::size_t corpus_videos = 0;
  std::size_t val_frames = 0;
};

/// Trains, then writes the two state-dicts (loadable by load_weights and `avqa extract
/// --visual-weights/--audio-weights`) and pretraining.json describing how they were made.
PretrainReport pretrain_backbones(const PretrainOptions& options);

}  // namespace avqa::features
