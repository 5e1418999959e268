#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include <torch/nn/module.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/normalization.h>
#include <torch/nn/pimpl.h>

#include "core/train/crmt.h"
#include "core/train/modality_model.h"

// The late-fusion audio-visual classifier of the balanced-learning papers (OGM-GE's
// models/fusion_modules.py), on cached features instead of raw spectrograms and frames: each
// modality's encoder is a two-layer MLP applied per segment and averaged over the segments
// (audio: VGGish 128-d per second; visual: the ResNet-18 map pooled to 512-d per second).
namespace avqa::avclass {

/// Crmt: CRMT's head (core/train/crmt.h) over the two encoders' features, what
/// `--robust crmt` trains.
enum class Fusion { Sum, Concat, Film, Gated, Crmt };
Fusion parse_fusion(const std::string& name);  ///< "sum", "concat", "film", "gated", "crmt"
const char* to_string(Fusion fusion);

struct LateFusionOptions {
  std::int64_t audio_dim = 128;
  std::int64_t visual_dim = 512;
  std::int64_t hidden = 256;  ///< each encoder's width d
  std::int64_t classes = 6;
  Fusion fusion = Fusion::Concat;
  /// LayerNorm on each segment's input vector before its encoder. Cached features come in
  /// whatever scale their backbone gives (the generated benchmark's VGGish embeddings are about
  /// 30x the ResNet maps): without it one SGD learning rate cannot suit both encoders, and which
  /// modality learns follows that scale rather than the data. Runs written before had none.
  bool input_norm = true;
  double crmt_init = 0.1;  ///< Crmt: the integration weights' initial value
};

/// Module names: audio_norm, audio_fc1, audio_fc2, visual_norm, visual_fc1, visual_fc2 (the
/// encoders; the norms with input_norm), then the fusion's
/// own layers: sum fc_x, fc_y; concat fc_out; film fc (d -> 2d), fc_out; gated fc_x, fc_y, fc_out;
/// crmt crmt.weight_0, weight_1, integration, bias.
class LateFusionNetImpl : public torch::nn::Module {
 public:
  explicit LateFusionNetImpl(const LateFusionOptions& options);
  /// audio [B, T, audio_dim] -> [B, d]
  torch::Tensor encode_audio(const torch::Tensor& audio);
  /// visual [B, T, visual_dim] -> [B, d]
  torch::Tensor encode_visual(const torch::Tensor& visual);
  /// [B, d], [B, d] -> logits [B, classes]
  torch::Tensor fuse(const torch::Tensor& a, const torch::Tensor& v);
  /// Each modality's own logits [B, classes] as the original code takes them: sum fusion its
  /// branch's layer (with its full bias), concat the split head with half the bias, FiLM and
  /// gated the fusion with the other modality's features zeroed.
  torch::Tensor unimodal(const torch::Tensor& a, const torch::Tensor& v, std::size_t m);

  const LateFusionOptions& options() const { return options_; }
  train::CrmtHead& crmt() { return crmt_; }  ///< empty unless the fusion is Crmt

 private:
  LateFusionOptions options_;
  torch::nn::LayerNorm audio_norm_{nullptr}, visual_norm_{nullptr};
  torch::nn::Linear audio_fc1_{nullptr}, audio_fc2_{nullptr};
  torch::nn::Linear visual_fc1_{nullptr}, visual_fc2_{nullptr};
  torch::nn::Linear fc_x_{nullptr}, fc_y_{nullptr}, fc_{nullptr}, fc_out_{nullptr};
  train::CrmtHead crmt_{nullptr};
};
TORCH_MODULE(LateFusionNet);

/// The classifier as the training core sees it: modalities {"audio", "visual"}, encoder groups
/// the two MLPs.
class LateFusionClassifier : public train::ModalityModel, public train::CertifiableModel {
 public:
  explicit LateFusionClassifier(const LateFusionOptions& options) : net_(options) {}

  std::vector<std::string> modalities() const override { return {"audio", "visual"}; }
  std::vector<at::Tensor> parameters() override;
  std::vector<at::Tensor> encoder_parameters(std::size_t m) override;
  void set_training(bool training) override;
  train::Encoded encode(const train::Batch& batch) override;
  at::Tensor fuse(const train::Encoded& encoded) override;
  at::Tensor unimodal_logits(const train::Encoded& encoded, std::size_t m) override;
  void save(const std::filesystem::path& file) override;
  void load(const std::filesystem::path& file) override;
  train::CrmtHeadImpl* crmt_head() override;
  train::CertifiedLogits certified_logits(const train::Encoded& encoded) override;

  LateFusionNet& net() { return net_; }

 private:
  LateFusionNet net_;
};

}  // namespace avqa::avclass
