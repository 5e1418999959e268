#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include <torch/nn/module.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/pimpl.h>

namespace avqa::features {

/// VGGish (Hershey et al. 2017) as torchvggish lays it out, so its state-dict loads by name:
/// features.{0,3,6,8,11,13} convolutions, embeddings.{0,2,4} linear layers.
/// forward: log-mel examples [N, 1, 96, 64] -> embeddings [N, 128] (after the final ReLU, no PCA).
class VggishImpl : public torch::nn::Module {
 public:
  VggishImpl();
  torch::Tensor forward(const torch::Tensor& examples);

 private:
  torch::nn::Sequential features_{nullptr};
  torch::nn::Sequential embeddings_{nullptr};
};
TORCH_MODULE(Vggish);

struct ResNet18Options {
  bool layer4_stride1 = true;  ///< ST-AVQA's 14x14 maps at 224 input; false: the standard 7x7
};

/// ResNet-18 trunk with torchvision's parameter names (conv1, bn1, layer1..4), so torchvision
/// state-dicts load by name; no pooling or classifier.
/// forward: normalised frames [N, 3, H, W] -> maps [N, 512, H/16, W/16] (stride-1 layer4) or
/// [N, 512, H/32, W/32].
class ResNet18Impl : public torch::nn::Module {
 public:
  explicit ResNet18Impl(ResNet18Options options = {});
  torch::Tensor forward(torch::Tensor frames);
  /// For inference (after eval() and load_weights): folds every batch norm's running statistics
  /// into the convolution before it. Same outputs within float rounding, about 10 % faster;
  /// afterwards the module cannot train and its state-dict no longer matches torchvision's.
  void fold_batch_norm();

 private:
  torch::nn::Sequential stem_{nullptr};
  std::vector<torch::nn::Sequential> layers_;
  bool folded_ = false;
};
TORCH_MODULE(ResNet18);

/// What `load_weights` matched.
struct WeightsReport {
  std::string description;  ///< "<file name> sha256:<hex>"
  std::vector<std::string> loaded;
  std::vector<std::string> unused;  ///< in the file, not in the module (e.g. fc.*, pproc.*)
};

/// Copies weights into `module` by parameter and buffer name from a state-dict saved with
/// torch.save (a plain dict of tensors, as tools/export_backbones.py writes it) or from a
/// TorchScript archive. Throws core::InputError naming the file and the key when a parameter
/// of the module is missing from the file or has another shape.
WeightsReport load_weights(torch::nn::Module& module, const std::filesystem::path& path);

/// The normalisation of the original feature script (Kinetics statistics, st-avqa.md section 11)
/// or ImageNet's; frames [N, H, W, 3] uint8 RGB -> [N, 3, H, W] float.
enum class Normalization { Kinetics, ImageNet };
Normalization parse_normalization(const std::string& text);
const char* to_string(Normalization n);
torch::Tensor normalize_frames(const torch::Tensor& rgb_uint8, Normalization normalization);

}  // namespace avqa::features
