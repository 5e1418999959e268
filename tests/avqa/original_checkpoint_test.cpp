#include "avqa/original_checkpoint.h"

#include <set>

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "core/checkpoint/torch_checkpoint.h"
#include "core/input_error.h"
#include "tests/avqa/small_network.h"
#include "tests/test_paths.h"

namespace avqa::net {
namespace {

using avqa::testing::TempDir;

using testing::small_widths;
StAvqaOptions small() {
  return small_widths();
}

// A checkpoint in the original layout: DataParallel's `module.` prefix and the unused layers.
checkpoint::NamedTensors original_layout(StAvqaNet& net) {
  checkpoint::NamedTensors out;
  for (const auto& p : net->named_parameters())
    out.emplace_back("module." + p.key(), p.value().detach().clone());
  out.emplace_back("module.visual_net.conv1.weight", torch::randn({64, 3, 7, 7}));
  out.emplace_back("module.fc_v.weight", torch::randn({32, 64}));
  return out;
}

TEST(OriginalCheckpoint, ImportReproducesTheSavedNetwork) {
  TempDir dir("original_ckpt");
  torch::manual_seed(0);
  StAvqaNet source(small());
  checkpoint::write_torch_state_dict(dir / "avst.pt", original_layout(source));
  torch::manual_seed(1);
  StAvqaNet target(small());
  const CheckpointImport report = load_original_checkpoint(target, dir / "avst.pt");
  EXPECT_EQ(report.unused, (std::vector<std::string>{"fc_v.weight", "visual_net.conv1.weight"}));
  EXPECT_EQ(report.loaded.size(), source->named_parameters().size());
  source->eval();
  target->eval();
  torch::NoGradGuard no_grad;
  const auto audio = torch::randn({2, 10, 16});
  const auto visual = torch::randn({2, 10, 32, 3, 3});
  const auto question = torch::randint(0, 20, {2, 14});
  EXPECT_TRUE(torch::equal(source->forward(audio, visual, question).logits,
                           target->forward(audio, visual, question).logits));
}

TEST(OriginalCheckpoint, ExportHasTheOriginal184KeysAndImportsBack) {
  TempDir dir("original_export");
  torch::manual_seed(2);
  StAvqaNet net;  // original widths
  const checkpoint::NamedTensors original = to_original_layout(net);
  EXPECT_EQ(original.size(),
            184u);  // st-avqa.md section 4: 45 used, 16 unused heads, 123 in visual_net
  std::set<std::string> names;
  std::int64_t total = 0;
  for (const auto& [name, tensor] : original) {
    EXPECT_EQ(name.rfind("module.", 0), 0u) << name;
    names.insert(name);
    if (name.find("running_") == std::string::npos && name.find("num_batches") == std::string::npos)
      total += tensor.numel();
  }
  EXPECT_EQ(names.size(), 184u);
  EXPECT_EQ(total, 22300948);  // parameters() of the original model
  for (const char* name :
       {"module.visual_net.conv1_a.weight", "module.visual_net.layer4.0.downsample.0.weight",
        "module.visual_net.bn1.num_batches_tracked", "module.fc_a1_pure.weight",
        "module.norm3.bias"}) {
    EXPECT_TRUE(names.count(name)) << name;
  }
  checkpoint::write_torch_state_dict(dir / "avst.pt", original);
  StAvqaNet back;
  const CheckpointImport report = load_original_checkpoint(back, dir / "avst.pt");
  EXPECT_EQ(report.unused.size(), 139u);
  for (const auto& p : net->named_parameters())
    EXPECT_TRUE(torch::equal(p.value(), back->named_parameters()[p.key()])) << p.key();
}

// A network the original's forward pass computes differently is not exported: its checkpoint
// would load in the original code and answer otherwise.
TEST(OriginalCheckpoint, ExportRefusesOptionsTheOriginalDoesNotCompute) {
  const auto refusal = [](const StAvqaOptions& o) -> std::string {
    StAvqaNet net(o);
    try {
      to_original_layout(net);
    } catch (const std::invalid_argument& e) {
      return e.what();
    }
    return "";
  };
  StAvqaOptions o;
  o.grounding_temperature = 0.1;
  EXPECT_NE(refusal(o).find("grounding_temperature 0.1"), std::string::npos) << refusal(o);
  o = {};
  o.position_codes = true;
  o.question_grounding = true;
  const std::string both = refusal(o);
  EXPECT_NE(both.find("position_codes, question_grounding"), std::string::npos) << both;
  o = {};
  o.centre_patches = true;
  EXPECT_NE(refusal(o).find("centre_patches"), std::string::npos);
  o = {};
  o.crmt_head = true;
  EXPECT_NE(refusal(o).find("crmt_head"), std::string::npos);
  EXPECT_EQ(refusal(StAvqaOptions{}), "");
}

TEST(OriginalCheckpoint, MissingKeysAndOtherShapesNameTheKey) {
  TempDir dir("original_ckpt_bad");
  torch::manual_seed(0);
  StAvqaNet source(small());
  checkpoint::NamedTensors tensors = original_layout(source);
  checkpoint::NamedTensors without = tensors;
  without.erase(without.begin());  // drop the first key
  checkpoint::write_torch_state_dict(dir / "missing.pt", without);
  StAvqaNet target(small());
  try {
    load_original_checkpoint(target, dir / "missing.pt");
    FAIL() << "imported a checkpoint without " << tensors.front().first;
  } catch (const core::InputError& e) {
    EXPECT_EQ(e.where().field, tensors.front().first);
  }
  StAvqaOptions wider = small();
  wider.answers = 42;  // the original answer head against a 7-answer checkpoint
  StAvqaNet other(wider);
  try {
    load_original_checkpoint(other, [&] {
      checkpoint::write_torch_state_dict(dir / "small.pt", tensors);
      return dir / "small.pt";
    }());
    FAIL() << "imported a 7-answer head into a 42-answer network";
  } catch (const core::InputError& e) {
    EXPECT_EQ(e.where().field.rfind("module.fc_ans.", 0), 0u) << e.what();
  }
}

}  // namespace
}  // namespace avqa::net
