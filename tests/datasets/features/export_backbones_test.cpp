// tools/export_backbones.py against the C++ ResNet-18: same weights, same outputs as torchvision.
// Needs Debian's python3-torchvision; skipped (with a message) where it is not installed.
#include <cstdlib>
#include <fstream>
#include <iterator>

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "datasets/features/backbones.h"
#include "tests/test_paths.h"

namespace avqa::features {
namespace {

using avqa::testing::TempDir;

torch::Tensor load_tensor(const std::filesystem::path& path, const std::string& key) {
  std::ifstream in(path, std::ios::binary);
  std::vector<char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  return torch::pickle_load(bytes).toGenericDict().at(key).toTensor();
}

class ExportBackbones : public ::testing::TestWithParam<bool> {};

// The first Python that has torchvision: the one on PATH, else Debian's own (a user's PATH may
// put a virtual environment or pyenv first).
std::string python_with_torchvision() {
  for (const char* python : {"python3", "/usr/bin/python3"}) {
    const std::string probe =
        std::string(python) + " -c 'import torch, torchvision' >/dev/null 2>&1";
    if (std::system(probe.c_str()) == 0) return python;
  }
  return {};
}

TEST_P(ExportBackbones, ResNet18MatchesTorchvision) {
  const std::string python = python_with_torchvision();
  if (python.empty())
    GTEST_SKIP()
        << "python3-torchvision is not installed; tools/export_backbones.py is checked where it is";
  const bool stride1 = GetParam();
  TempDir dir(stride1 ? "export_s1" : "export_s2");
  const std::string command = python + " '" + std::string(AVQA_SOURCE_DIR) +
                              "/tools/export_backbones.py' --random --resnet18 '" +
                              (dir / "resnet18.pt").string() + "' --check '" +
                              (dir / "check_").string() + "'" +
                              (stride1 ? " --layer4-stride1" : "") + " >/dev/null";
  ASSERT_EQ(std::system(command.c_str()), 0) << command;
  ResNet18 net(ResNet18Options{stride1});
  net->eval();
  const WeightsReport report = load_weights(*net, dir / "resnet18.pt");
  EXPECT_EQ(report.unused, (std::vector<std::string>{"fc.bias", "fc.weight"}));
  torch::NoGradGuard no_grad;
  const auto input = load_tensor(dir / "check_input.pt", "input");
  const auto expected = load_tensor(dir / "check_output.pt", "output");
  const auto got = net->forward(input);
  ASSERT_EQ(got.sizes(), expected.sizes());
  EXPECT_LT((got - expected).abs().max().item<float>(), 1e-4);
}

INSTANTIATE_TEST_SUITE_P(Layer4, ExportBackbones, ::testing::Values(false, true));

}  // namespace
}  // namespace avqa::features
