#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace avqa::features {

/// `avqa pretrain-backbones`: where no pretrained VGGish or ResNet-18 weights can be had, train
/// the built-in backbones on a generated dataset's ground truth: ResNet-18 to tell which
/// instruments are visible in a frame, VGGish which instruments sound in a second (22-way
/// multi-label, binary cross-entropy), through a linear head dropped afterwards.
struct PretrainOptions {
  std::filesystem::path
      data;  ///< a dataset written by `avqa generate` (videos/, truth/, annotations/)
  std::filesystem::path out;  ///< folder for resnet18.pt, vggish.pt and pretraining.json
  int epochs = 3;
  int batch = 32;
  double learning_rate = 1e-4;
  int frame_size = 112;  ///< training resolution (the trunk is convolutional: extract at any size)
  std::uint64_t seed = 0;
  int max_videos = 0;  ///< 0 = every training video
  bool progress = true;
};

struct PretrainEpoch {
  double visual_loss = 0;  ///< mean training BCE
  double audio_loss = 0;
  double visual_val_f1 = 0;  ///< micro F1 of the thresholded predictions on the val split
  double audio_val_f1 = 0;
};

struct PretrainReport {
  std::vector<PretrainEpoch> epochs;
  std::filesystem::path visual_weights;
  std::filesystem::path audio_weights;
  std::size_t train_frames = 0;
  std::size_t val_frames = 0;
};

/// Trains, then writes the two state-dicts (loadable by load_weights and `avqa extract
/// --visual-weights/--audio-weights`) and pretraining.json describing how they were made.
PretrainReport pretrain_backbones(const PretrainOptions& options);

}  // namespace avqa::features
