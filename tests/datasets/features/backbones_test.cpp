#include "datasets/features/backbones.h"

#include <cstdlib>
#include <fstream>
#include <map>
#include <unistd.h>

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "core/checkpoint/torch_checkpoint.h"
#include "core/input_error.h"
#include "tests/test_paths.h"

namespace avqa::features {
namespace {

using avqa::testing::TempDir;

std::int64_t count_parameters(torch::nn::Module& m) {
  std::int64_t n = 0;
  for (const auto& p : m.parameters())
    n += p.numel();
  return n;
}

TEST(Backbones, VggishHasTorchvggishNamesSizesAndShapes) {
  Vggish vggish;
  EXPECT_EQ(count_parameters(*vggish), 72141184);
  const auto names = vggish->named_parameters().keys();
  for (const char* name :
       {"features.0.weight", "features.13.bias", "embeddings.0.weight", "embeddings.4.bias"}) {
    EXPECT_NE(std::find(names.begin(), names.end(), name), names.end()) << name;
  }
  vggish->eval();
  torch::NoGradGuard no_grad;
  const auto out = vggish->forward(torch::randn({3, 1, 96, 64}));
  EXPECT_EQ(out.sizes(), (std::vector<std::int64_t>{3, 128}));
  EXPECT_GE(out.min().item<float>(), 0.f);  // embeddings come after a ReLU
  EXPECT_THROW(vggish->forward(torch::randn({1, 1, 64, 96})), c10::Error);
}

TEST(Backbones, ResNet18HasTorchvisionNamesAndBothStrides) {
  ResNet18 stride1;
  EXPECT_EQ(count_parameters(*stride1), 11176512);  // torchvision resnet18 without fc
  const auto names = stride1->named_parameters().keys();
  for (const char* name : {"conv1.weight", "bn1.weight", "layer1.0.conv1.weight",
                           "layer4.0.downsample.0.weight", "layer4.1.bn2.bias"}) {
    EXPECT_NE(std::find(names.begin(), names.end(), name), names.end()) << name;
  }
  stride1->eval();
  ResNet18 stride2(ResNet18Options{false});
  stride2->eval();
  torch::NoGradGuard no_grad;
  const auto frames = torch::randn({2, 3, 224, 224});
  EXPECT_EQ(stride1->forward(frames).sizes(), (std::vector<std::int64_t>{2, 512, 14, 14}));
  EXPECT_EQ(stride2->forward(frames).sizes(), (std::vector<std::int64_t>{2, 512, 7, 7}));
}

TEST(Backbones, FoldingBatchNormKeepsTheOutputs) {
  for (const bool stride1 : {true, false}) {
    torch::manual_seed(5);
    ResNet18 net(ResNet18Options{stride1});
    {  // running statistics and affine terms far from the identity, as trained weights have
      torch::NoGradGuard no_grad;
      for (auto& b : net->named_buffers()) {
        if (b.key().find("running_mean") != std::string::npos) b.value().uniform_(-0.5, 0.5);
        if (b.key().find("running_var") != std::string::npos) b.value().uniform_(0.2, 3.0);
      }
      for (auto& p : net->named_parameters()) {
        if (p.key().find("bn") != std::string::npos ||
            p.key().find("downsample.1") != std::string::npos)
          p.value().uniform_(0.5, 1.5);
      }
    }
    net->eval();
    torch::NoGradGuard no_grad;
    const auto frames = torch::randn({2, 3, 96, 96});
    const auto before = net->forward(frames);
    net->fold_batch_norm();
    const auto after = net->forward(frames);
    EXPECT_GT(before.abs().max().item<float>(), 0.1f);
    EXPECT_LT((after - before).abs().max().item<float>(), 1e-4f * before.abs().max().item<float>())
        << "stride1 " << stride1;
  }
  ResNet18 training;
  EXPECT_THROW(training->fold_batch_norm(), c10::Error);  // still in training mode
}

TEST(Backbones, WeightsLoadByNameAndReproduceTheModel) {
  TempDir dir("weights");
  torch::manual_seed(3);
  ResNet18 source;
  source->eval();
  c10::Dict<std::string, torch::Tensor> dict;
  for (const auto& p : source->named_parameters())
    dict.insert(p.key(), p.value().detach());
  for (const auto& b : source->named_buffers())
    dict.insert(b.key(), b.value());
  dict.insert("fc.weight",
              torch::zeros({1000, 512}));  // torchvision's classifier: reported, not used
  {
    const auto bytes = torch::pickle_save(c10::IValue(dict));
    std::ofstream(dir / "resnet18.pt", std::ios::binary)
        .write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  }
  torch::manual_seed(4);
  ResNet18 target;
  target->eval();
  const WeightsReport report = load_weights(*target, dir / "resnet18.pt");
  EXPECT_EQ(report.unused, std::vector<std::string>{"fc.weight"});
  EXPECT_EQ(report.description.rfind("resnet18.pt sha256:", 0), 0u);
  torch::NoGradGuard no_grad;
  const auto frames = torch::randn({1, 3, 64, 64});
  EXPECT_TRUE(torch::equal(source->forward(frames), target->forward(frames)));

  // Missing key and wrong shape name the key; garbage names the file.
  ASSERT_EQ(dict.erase("layer2.0.conv1.weight"), 1u);
  {
    const auto bytes = torch::pickle_save(c10::IValue(dict));
    std::ofstream(dir / "missing.pt", std::ios::binary)
        .write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  }
  try {
    load_weights(*target, dir / "missing.pt");
    FAIL() << "loaded a state-dict without layer2.0.conv1.weight";
  } catch (const core::InputError& e) {
    EXPECT_EQ(e.where().field, "layer2.0.conv1.weight");
  }
  Vggish vggish;
  try {
    load_weights(*vggish, dir / "resnet18.pt");
    FAIL() << "loaded ResNet weights into VGGish";
  } catch (const core::InputError& e) {
    EXPECT_EQ(e.where().field, "features.0.weight");
  }
  std::ofstream(dir / "garbage.pt") << "not weights";
  EXPECT_THROW(load_weights(*target, dir / "garbage.pt"), core::InputError);
}

// torchvision's own files (model.state_dict(): an OrderedDict with _metadata, as its
// resnet18-5c106cde.pth download is laid out) load as they are, and the trunk computes what
// torchvision's does.
TEST(Backbones, TorchvisionStateDictLoadsAsItIs) {
  if (std::system("/usr/bin/python3 -c 'import torchvision' >/dev/null 2>&1") != 0)
    GTEST_SKIP() << "python3-torchvision is not installed (tools/install-deps.sh installs it)";
  TempDir dir("torchvision");
  const std::string script = R"(
import sys, torch, torchvision
torch.manual_seed(5)
model = torchvision.models.resnet18().eval()
with torch.no_grad():
    for m in model.modules():  # statistics that are not the identity
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.1, 0.1); m.running_var.uniform_(0.5, 1.5)
    torch.save(model.state_dict(), sys.argv[1] + '/resnet18-torchvision.pth')
    x = torch.randn(2, 3, 64, 64)
    trunk = torch.nn.Sequential(*list(model.children())[:-2])
    torch.save({'input': x, 'output': trunk(x)}, sys.argv[1] + '/io.pt')
)";
  std::ofstream(dir / "make.py") << script;
  ASSERT_EQ(std::system(("/usr/bin/python3 '" + (dir / "make.py").string() + "' '" +
                         dir.path().string() + "'")
                            .c_str()),
            0);
  ResNet18 ours(ResNet18Options{/*layer4_stride1=*/false});
  ours->eval();
  const WeightsReport report = load_weights(*ours, dir / "resnet18-torchvision.pth");
  EXPECT_EQ(report.unused, (std::vector<std::string>{"fc.bias", "fc.weight"}));
  std::map<std::string, torch::Tensor> io;
  for (auto& [name, tensor] : checkpoint::read_torch_state_dict(dir / "io.pt"))
    io[name] = tensor;
  torch::NoGradGuard no_grad;
  EXPECT_TRUE(torch::allclose(ours->forward(io.at("input")), io.at("output"), 1e-4, 1e-4));
}

TEST(Backbones, NormalisationOfTheOriginalScript) {
  const auto white = torch::full({1, 2, 2, 3}, 255, torch::kUInt8);
  const auto k = normalize_frames(white, Normalization::Kinetics);
  EXPECT_EQ(k.sizes(), (std::vector<std::int64_t>{1, 3, 2, 2}));
  EXPECT_NEAR(k[0][0][0][0].item<float>(), (1 - 0.43216) / 0.22803, 1e-5);
  const auto i = normalize_frames(white, Normalization::ImageNet);
  EXPECT_NEAR(i[0][2][1][1].item<float>(), (1 - 0.406) / 0.225, 1e-5);
  EXPECT_THROW(parse_normalization("cifar"), std::invalid_argument);
}

}  // namespace
}  // namespace avqa::features
