#include "datasets/features/backbones.h"

#include <fstream>
#include <iterator>
#include <map>

#include <torch/script.h>
#include <torch/torch.h>

#include "core/checkpoint/torch_checkpoint.h"
#include "core/input_error.h"
#include "core/sha256.h"

namespace avqa::features {
namespace {

namespace nn = torch::nn;

nn::Conv2d conv(int in, int out, int kernel, int stride, int padding, bool bias) {
  return nn::Conv2d(nn::Conv2dOptions(in, out, kernel).stride(stride).padding(padding).bias(bias));
}

// Inference with running statistics: conv then batch norm is one convolution with scaled
// weights and a bias. Saves a pass over every activation (about 10 % of ResNet-18's time).
void fold(nn::Conv2dImpl& conv, const nn::BatchNorm2dImpl& bn) {
  torch::NoGradGuard no_grad;
  const auto scale = bn.weight / torch::sqrt(bn.running_var + bn.options.eps());
  conv.weight.mul_(scale.view({-1, 1, 1, 1}));
  conv.bias = bn.bias - bn.running_mean * scale;
}

// torchvision's BasicBlock: conv1, bn1, conv2, bn2 (+ downsample.0 conv, downsample.1 bn).
class BasicBlockImpl : public nn::Module {
 public:
  BasicBlockImpl(int in, int out, int stride) {
    conv1_ = register_module("conv1", conv(in, out, 3, stride, 1, false));
    bn1_ = register_module("bn1", nn::BatchNorm2d(out));
    conv2_ = register_module("conv2", conv(out, out, 3, 1, 1, false));
    bn2_ = register_module("bn2", nn::BatchNorm2d(out));
    if (stride != 1 || in != out) {
      downsample_ = register_module(
          "downsample", nn::Sequential(conv(in, out, 1, stride, 0, false), nn::BatchNorm2d(out)));
    }
  }
  torch::Tensor forward(const torch::Tensor& x) {
    if (folded_) {  // the batch norms live in the convolutions' weights and biases
      auto y = conv2_(conv1_(x).relu_());
      return y.add_(downsample_ ? downsample_[0]->as<nn::Conv2d>()->forward(x) : x).relu_();
    }
    auto y = torch::relu(bn1_(conv1_(x)));
    y = bn2_(conv2_(y));
    return torch::relu(y + (downsample_ ? downsample_->forward(x) : x));
  }
  void fold_batch_norm() {
    fold(*conv1_, *bn1_);
    fold(*conv2_, *bn2_);
    if (downsample_)
      fold(*downsample_[0]->as<nn::Conv2d>(), *downsample_[1]->as<nn::BatchNorm2d>());
    folded_ = true;
  }

 private:
  nn::Conv2d conv1_{nullptr}, conv2_{nullptr};
  nn::BatchNorm2d bn1_{nullptr}, bn2_{nullptr};
  nn::Sequential downsample_{nullptr};
  bool folded_ = false;
};
TORCH_MODULE(BasicBlock);

// He initialisation (fan-in, ReLU gain) of every layer, so an untrained VGGish passes its input
// through: with LibTorch's default the 128-d output barely depends on the input (std across
// examples 0.0002 against a mean of 0.005), and training from scratch stalls at the label prior.
void he_initialise(torch::nn::Module& module) {
  torch::NoGradGuard no_grad;
  for (auto& p : module.named_parameters()) {
    if (p.key().size() >= 6 && p.key().compare(p.key().size() - 6, 6, "weight") == 0 &&
        p.value().dim() >= 2) {
      torch::nn::init::kaiming_normal_(p.value(), 0.0, torch::kFanIn, torch::kReLU);
    } else if (p.key().size() >= 4 && p.key().compare(p.key().size() - 4, 4, "bias") == 0) {
      p.value().zero_();
    }
  }
}

}  // namespace

VggishImpl::VggishImpl() {
  features_ = register_module(
      "features",
      nn::Sequential(conv(1, 64, 3, 1, 1, true), nn::ReLU(),
                     nn::MaxPool2d(nn::MaxPool2dOptions(2).stride(2)), conv(64, 128, 3, 1, 1, true),
                     nn::ReLU(), nn::MaxPool2d(nn::MaxPool2dOptions(2).stride(2)),
                     conv(128, 256, 3, 1, 1, true), nn::ReLU(), conv(256, 256, 3, 1, 1, true),
                     nn::ReLU(), nn::MaxPool2d(nn::MaxPool2dOptions(2).stride(2)),
                     conv(256, 512, 3, 1, 1, true), nn::ReLU(), conv(512, 512, 3, 1, 1, true),
                     nn::ReLU(), nn::MaxPool2d(nn::MaxPool2dOptions(2).stride(2))));
  embeddings_ =
      register_module("embeddings", nn::Sequential(nn::Linear(512 * 4 * 6, 4096), nn::ReLU(),
                                                   nn::Linear(4096, 4096), nn::ReLU(),
                                                   nn::Linear(4096, 128), nn::ReLU()));
  he_initialise(*this);
}

torch::Tensor VggishImpl::forward(const torch::Tensor& examples) {
  TORCH_CHECK(examples.dim() == 4 && examples.size(1) == 1 && examples.size(2) == 96 &&
                  examples.size(3) == 64,
              "VGGish expects [N, 1, 96, 64] log-mel examples, got ", examples.sizes());
  auto x = features_->forward(examples);  // [N, 512, 6, 4]
  // Flatten in TensorFlow's NHWC order, which the released weights were trained with.
  x = x.permute({0, 2, 3, 1}).contiguous().view({x.size(0), -1});
  return embeddings_->forward(x);
}

ResNet18Impl::ResNet18Impl(ResNet18Options options) {
  // Registered one by one (not as a Sequential) to keep torchvision's names: conv1, bn1, layer1...
  register_module("conv1", conv(3, 64, 7, 2, 3, false));
  register_module("bn1", nn::BatchNorm2d(64));
  const int widths[] = {64, 128, 256, 512};
  int in = 64;
  for (int l = 0; l < 4; ++l) {
    const int stride = l == 0 ? 1 : (l == 3 && options.layer4_stride1 ? 1 : 2);
    nn::Sequential layer(BasicBlock(in, widths[l], stride), BasicBlock(widths[l], widths[l], 1));
    layers_.push_back(register_module("layer" + std::to_string(l + 1), layer));
    in = widths[l];
  }
}

torch::Tensor ResNet18Impl::forward(torch::Tensor frames) {
  TORCH_CHECK(frames.dim() == 4 && frames.size(1) == 3,
              "ResNet-18 expects [N, 3, H, W] frames, got ", frames.sizes());
  auto conv1 = std::dynamic_pointer_cast<nn::Conv2dImpl>(named_children()["conv1"]);
  auto bn1 = std::dynamic_pointer_cast<nn::BatchNorm2dImpl>(named_children()["bn1"]);
  auto x =
      folded_ ? conv1->forward(frames).relu_() : torch::relu(bn1->forward(conv1->forward(frames)));
  x = torch::max_pool2d(x, 3, 2, 1);
  for (auto& layer : layers_)
    x = layer->forward(x);
  return x;
}

void ResNet18Impl::fold_batch_norm() {
  if (folded_) return;
  TORCH_CHECK(!is_training(), "fold_batch_norm is for inference: call eval() first");
  fold(*named_children()["conv1"]->as<nn::Conv2d>(),
       *named_children()["bn1"]->as<nn::BatchNorm2d>());
  for (auto& layer : layers_) {
    for (auto& block : layer->children())
      block->as<BasicBlock>()->fold_batch_norm();
  }
  folded_ = true;
}

WeightsReport load_weights(torch::nn::Module& module, const std::filesystem::path& path) {
  const std::string file = path.string();
  // The project's validating reader, never torch::pickle_load: a stranger's file must not reach
  // a parser that reads out of bounds. It also takes model.state_dict() OrderedDicts as
  // torchvision saves them (resnet18-*.pth), which torch::pickle_load refuses.
  std::map<std::string, torch::Tensor> tensors;
  std::string sha256;
  for (auto& [name, tensor] : checkpoint::read_weights(path, &sha256))
    tensors[name] = tensor;
  WeightsReport report;
  report.description = path.filename().string() + " sha256:" + sha256;
  torch::NoGradGuard no_grad;
  std::map<std::string, bool> used;
  auto copy = [&](const std::string& name, torch::Tensor& target) {
    const auto it = tensors.find(name);
    if (it == tensors.end())
      throw core::InputError({file, std::nullopt, name}, "is missing from the weights file");
    if (it->second.sizes() != target.sizes()) {
      std::ostringstream what;
      what << "has shape " << it->second.sizes() << ", the model expects " << target.sizes();
      throw core::InputError({file, std::nullopt, name}, what.str());
    }
    target.copy_(it->second.to(target.dtype()));
    used[name] = true;
    report.loaded.push_back(name);
  };
  for (auto& p : module.named_parameters(/*recurse=*/true))
    copy(p.key(), p.value());
  for (auto& b : module.named_buffers(/*recurse=*/true)) {
    if (tensors.count(b.key())) copy(b.key(), b.value());  // num_batches_tracked may be absent
  }
  for (const auto& [name, tensor] : tensors) {
    if (!used.count(name)) report.unused.push_back(name);
  }
  return report;
}

Normalization parse_normalization(const std::string& text) {
  if (text == "kinetics") return Normalization::Kinetics;
  if (text == "imagenet") return Normalization::ImageNet;
  throw std::invalid_argument("unknown normalization '" + text + "' (kinetics or imagenet)");
}

const char* to_string(Normalization n) {
  return n == Normalization::Kinetics ? "kinetics" : "imagenet";
}

torch::Tensor normalize_frames(const torch::Tensor& rgb_uint8, Normalization normalization) {
  TORCH_CHECK(rgb_uint8.dim() == 4 && rgb_uint8.size(3) == 3, "expected [N, H, W, 3] frames, got ",
              rgb_uint8.sizes());
  const auto mean = normalization == Normalization::Kinetics
                        ? torch::tensor({0.43216, 0.394666, 0.37645})
                        : torch::tensor({0.485, 0.456, 0.406});
  const auto std = normalization == Normalization::Kinetics
                       ? torch::tensor({0.22803, 0.22145, 0.216989})
                       : torch::tensor({0.229, 0.224, 0.225});
  auto x = rgb_uint8.permute({0, 3, 1, 2}).to(torch::kFloat32).div(255.0);
  return (x - mean.view({1, 3, 1, 1})) / std.view({1, 3, 1, 1});
}

}  // namespace avqa::features
