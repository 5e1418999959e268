#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "core/train/modality_model.h"
#include "core/train/trainer.h"

// A two-modality model small enough to reason about: one linear encoder per modality and a
// linear head over their concatenation, on data where the first modality ("audio") carries the
// class clearly and the second ("visual") faintly: the imbalance the methods address.
namespace avqa::train::testing {

struct ToyNetImpl : torch::nn::Module {
  ToyNetImpl(std::int64_t in, std::int64_t width, std::int64_t classes)
      : audio(register_module("audio", torch::nn::Linear(in, width))),
        visual(register_module("visual", torch::nn::Linear(in, width))),
        head(register_module("head", torch::nn::Linear(2 * width, classes))) {}
  torch::nn::Linear audio, visual, head;
};
TORCH_MODULE(ToyNet);

class ToyModel : public ModalityModel {
 public:
  explicit ToyModel(std::int64_t in = 8, std::int64_t width = 6, std::int64_t classes = 4)
      : net(in, width, classes) {}

  std::vector<std::string> modalities() const override { return {"audio", "visual"}; }
  std::vector<at::Tensor> parameters() override { return net->parameters(); }
  std::vector<at::Tensor> encoder_parameters(std::size_t m) override {
    return m == 0 ? net->audio->parameters() : net->visual->parameters();
  }
  void set_training(bool training) override { net->train(training); }
  Encoded encode(const Batch& b) override {
    return {{torch::relu(net->audio(b.inputs.at(0))), torch::relu(net->visual(b.inputs.at(1)))},
            {}};
  }
  at::Tensor fuse(const Encoded& e) override {
    return net->head(torch::cat({e.features[0], e.features[1]}, 1));
  }
  at::Tensor unimodal_logits(const Encoded& e, std::size_t m) override {
    return split_head_logits(e, m, net->head->weight, net->head->bias);
  }
  void save(const std::filesystem::path& file) override { torch::save(net, file.string()); }
  void load(const std::filesystem::path& file) override { torch::load(net, file.string()); }

  ToyNet net;
};

/// Class c of 4: audio = clean one-hot code of c plus small noise; visual = the same code
/// buried in noise of `visual_noise`.
class ToyData : public TrainingData {
 public:
  ToyData(std::int64_t n, std::uint64_t seed, double visual_noise = 2.0, std::int64_t in = 8) {
    auto g = at::detail::createCPUGenerator(seed);
    labels_ = torch::randint(4, {n}, g, torch::kLong);
    const auto code = torch::one_hot(labels_, in).to(torch::kFloat);
    audio_ = code * 2 + 0.3 * torch::randn({n, in}, g);
    visual_ = code + visual_noise * torch::randn({n, in}, g);
  }
  std::size_t size() const override { return static_cast<std::size_t>(labels_.size(0)); }
  Batch load(const std::vector<std::size_t>& indices, bool, std::uint64_t) const override {
    std::vector<std::int64_t> rows(indices.begin(), indices.end());
    const auto index = torch::tensor(rows, torch::kLong);
    Batch b;
    b.inputs = {audio_.index_select(0, index), visual_.index_select(0, index)};
    b.labels = labels_.index_select(0, index);
    return b;
  }

 private:
  at::Tensor labels_, audio_, visual_;
};

/// A ToyModel fitted by `steps` full-batch Adam steps (lr 0.05) on all of `data`, its initial
/// weights from `seed`; left in evaluation mode. Audio decides, visual helps.
inline ToyModel fitted_toy_model(const ToyData& data, std::int64_t seed, int steps) {
  torch::manual_seed(seed);
  ToyModel model;
  torch::optim::Adam adam(model.parameters(), torch::optim::AdamOptions(0.05));
  std::vector<std::size_t> all(data.size());
  for (std::size_t i = 0; i < all.size(); ++i)
    all[i] = i;
  const Batch b = data.load(all, true, 0);
  for (int step = 0; step < steps; ++step) {
    adam.zero_grad();
    torch::nn::functional::cross_entropy(model.fuse(model.encode(b)), b.labels).backward();
    adam.step();
  }
  model.set_training(false);
  return model;
}

}  // namespace avqa::train::testing
