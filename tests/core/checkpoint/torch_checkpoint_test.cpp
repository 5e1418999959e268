#include "core/checkpoint/torch_checkpoint.h"

#include <cstdlib>
#include <fstream>
#include <iterator>
#include <sstream>

#include <gtest/gtest.h>
#include <torch/script.h>
#include <torch/torch.h>

#include "core/input_error.h"
#include "tests/test_paths.h"

namespace avqa::checkpoint {
namespace {

namespace fs = std::filesystem;
using avqa::testing::TempDir;

std::string read_bytes(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

// Debian's python3 with torch, for checks against the real torch.save / torch.load.
std::string python_with_torch() {
  for (const char* python : {"python3", "/usr/bin/python3"}) {
    if (std::system((std::string(python) + " -c 'import torch' >/dev/null 2>&1").c_str()) == 0)
      return python;
  }
  return {};
}

TEST(TorchCheckpoint, RoundTripKeepsNamesOrderValuesAndTypes) {
  TempDir dir("ckpt");
  torch::manual_seed(0);
  const NamedTensors tensors = {
      {"module.fc.weight", torch::randn({4, 3})},
      {"module.fc.bias", torch::randn({4})},
      {"module.bn.num_batches_tracked", torch::tensor(7, torch::kLong)},
      {"module.transposed", torch::randn({3, 5}).t()},  // not contiguous
      {"module.half", torch::randn({2, 2}).to(torch::kHalf)},
      {"module.empty", torch::empty({0, 3})},
  };
  write_torch_state_dict(dir / "avst.pt", tensors);
  const NamedTensors back = read_torch_state_dict(dir / "avst.pt");
  ASSERT_EQ(back.size(), tensors.size());
  for (std::size_t i = 0; i < tensors.size(); ++i) {
    EXPECT_EQ(back[i].first, tensors[i].first);
    EXPECT_EQ(back[i].second.scalar_type(), tensors[i].second.scalar_type()) << back[i].first;
    EXPECT_TRUE(torch::equal(back[i].second, tensors[i].second)) << back[i].first;
  }
}

TEST(TorchCheckpoint, RefusesGlobalsItDoesNotKnowAndDamagedFiles) {
  TempDir dir("ckpt_bad");
  write_torch_state_dict(dir / "ok.pt", {{"w", torch::ones({2})}});
  std::string bytes = read_bytes(dir / "ok.pt");
  // Swap the tensor-rebuilding global for another callable of the same length.
  const std::string good = "torch._utils\n_rebuild_tensor_v2";
  const std::string evil = "builtins\neval_____________xxxxx";
  ASSERT_EQ(good.size(), evil.size());
  const auto at = bytes.find(good);
  ASSERT_NE(at, std::string::npos);
  bytes.replace(at, good.size(), evil);
  std::ofstream(dir / "evil.pt", std::ios::binary) << bytes;
  try {
    read_torch_state_dict(dir / "evil.pt");
    FAIL() << "ran an unknown global";
  } catch (const core::InputError& e) {
    EXPECT_NE(std::string(e.what()).find("builtins.eval"), std::string::npos) << e.what();
  }
  std::ofstream(dir / "truncated.pt", std::ios::binary) << read_bytes(dir / "ok.pt").substr(0, 100);
  EXPECT_THROW(read_torch_state_dict(dir / "truncated.pt"), core::InputError);
  std::ofstream(dir / "text.pt") << "hello";
  EXPECT_THROW(read_torch_state_dict(dir / "text.pt"), core::InputError);
}

// The real thing: model.state_dict() of a DataParallel-wrapped model (an OrderedDict with
// _metadata and `module.` keys) saved by Python's torch.save; and our file loaded by torch.load.
TEST(TorchCheckpoint, InteroperatesWithPythonTorch) {
  const std::string python = python_with_torch();
  if (python.empty())
    GTEST_SKIP() << "python3-torch is not installed; the format is checked where it is";
  TempDir dir("ckpt_python");
  const std::string script = R"(
import sys, torch
torch.manual_seed(0)
model = torch.nn.DataParallel(torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.BatchNorm1d(4), torch.nn.LSTM(4, 2)))
torch.save(model.state_dict(), sys.argv[1] + '/python.pt')
torch.save(model.state_dict(), sys.argv[1] + '/legacy.pt', _use_new_zipfile_serialization=False)
with open(sys.argv[1] + '/sums.txt', 'w') as f:
    for k, v in model.state_dict().items():
        f.write('%s %.6f\n' % (k, v.double().sum().item()))
ours = torch.load(sys.argv[1] + '/ours.pt')
assert type(ours).__name__ == 'OrderedDict', type(ours)
assert list(ours.keys()) == ['a.weight', 'b'], list(ours.keys())
assert torch.equal(ours['a.weight'], torch.arange(6, dtype=torch.float32).reshape(2, 3))
assert ours['b'].dtype == torch.int64 and ours['b'].item() == 42
)";
  std::ofstream(dir / "check.py") << script;
  write_torch_state_dict(dir / "ours.pt",
                         {{"a.weight", torch::arange(6, torch::kFloat32).reshape({2, 3})},
                          {"b", torch::tensor(42, torch::kLong)}});
  ASSERT_EQ(
      std::system((python + " '" + (dir / "check.py").string() + "' '" + dir.path().string() + "'")
                      .c_str()),
      0);
  // Both formats: the zip archive of PyTorch >= 1.6, and the legacy stream older files use (as
  // torchvggish's released weights do).
  for (const char* file : {"python.pt", "legacy.pt"}) {
    const NamedTensors loaded = read_torch_state_dict(dir / file);
    std::ifstream sums(dir / "sums.txt");
    std::string key;
    double sum = 0;
    std::size_t i = 0;
    while (sums >> key >> sum) {
      ASSERT_LT(i, loaded.size()) << file;
      EXPECT_EQ(loaded[i].first, key) << file;
      EXPECT_NEAR(loaded[i].second.to(torch::kDouble).sum().item<double>(), sum, 1e-5)
          << file << " " << key;
      ++i;
    }
    EXPECT_EQ(i, loaded.size()) << file;
    EXPECT_EQ(loaded.front().first, "module.0.weight") << file;
  }
  // A legacy file cut short names the file instead of reading past its end.
  const std::string legacy = read_bytes(dir / "legacy.pt");
  std::ofstream(dir / "legacy-cut.pt", std::ios::binary) << legacy.substr(0, legacy.size() - 40);
  try {
    read_torch_state_dict(dir / "legacy-cut.pt");
    ADD_FAILURE() << "read a cut legacy file";
  } catch (const core::InputError& e) {
    EXPECT_NE(std::string(e.what()).find("legacy-cut.pt"), std::string::npos) << e.what();
  }
}

TEST(TorchCheckpoint, ReadsWeightsFromStateDictsAndTorchScriptArchives) {
  TempDir dir("ckpt_weights");
  write_torch_state_dict(dir / "state.pt", {{"layer.weight", torch::full({2, 2}, 3.0f)}});
  EXPECT_FALSE(is_torchscript_archive(dir / "state.pt"));
  const NamedTensors from_state = read_weights(dir / "state.pt");
  ASSERT_EQ(from_state.size(), 1u);
  EXPECT_TRUE(torch::equal(from_state[0].second, torch::full({2, 2}, 3.0f)));

  torch::jit::Module scripted("Net");
  scripted.register_parameter("weight", torch::full({3}, 2.0f), false);
  scripted.register_buffer("scale", torch::full({1}, 5.0f));
  scripted.define("def forward(self, x):\n  return x * self.weight * self.scale\n");
  scripted.save((dir / "scripted.pt").string());
  EXPECT_TRUE(is_torchscript_archive(dir / "scripted.pt"));
  const NamedTensors from_script = read_weights(dir / "scripted.pt");
  ASSERT_EQ(from_script.size(), 2u);
  EXPECT_EQ(from_script[0].first, "weight");
  EXPECT_TRUE(torch::equal(from_script[0].second, torch::full({3}, 2.0f)));
  EXPECT_EQ(from_script[1].first, "scale");
}

// Files that LibTorch's own readers mishandle (its zip reader reads out of bounds on a file that
// is not an archive) never get past the validating reader: each is an InputError naming the file.
TEST(TorchCheckpoint, RefusesForeignFilesBeforeLibTorchSeesThem) {
  TempDir dir("ckpt_foreign");
  write_torch_state_dict(dir / "ok.pt", {{"w", torch::ones({64})}});
  const std::string ok = read_bytes(dir / "ok.pt");
  std::string video(4096, '\0');
  video.replace(4, 8, "ftypisom");  // the start of an MP4 file
  std::ofstream(dir / "video.mp4", std::ios::binary) << video;
  std::string past_end = ok;
  // The last record's local header offset in the central directory, pointed past the end.
  const auto central = past_end.rfind(std::string("PK\x01\x02", 4));
  ASSERT_NE(central, std::string::npos);
  const std::uint32_t beyond = static_cast<std::uint32_t>(ok.size() + 100);
  for (int b = 0; b < 4; ++b)
    past_end[central + 42 + static_cast<std::size_t>(b)] = static_cast<char>(beyond >> (8 * b));
  std::ofstream(dir / "past_end.pt", std::ios::binary) << past_end;
  std::ofstream(dir / "cut.pt", std::ios::binary) << ok.substr(0, ok.size() - 30);
  for (const char* name : {"video.mp4", "past_end.pt", "cut.pt"}) {
    const fs::path file = dir / name;
    for (const auto& read : {+[](const fs::path& p) { (void)read_weights(p); },
                             +[](const fs::path& p) { require_sound_archive(p); },
                             +[](const fs::path& p) { (void)read_torch_state_dict(p); }}) {
      try {
        read(file);
        ADD_FAILURE() << name << " was accepted";
      } catch (const core::InputError& e) {
        EXPECT_NE(std::string(e.what()).find(name), std::string::npos) << e.what();
      }
    }
  }
  EXPECT_NO_THROW(require_sound_archive(dir / "ok.pt"));
}

}  // namespace
}  // namespace avqa::checkpoint
