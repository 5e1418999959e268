#include "avqa/st_avqa_task.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "core/train/perturbation.h"
#include "tests/avqa/small_network.h"

namespace avqa::net {
namespace {

// The core's attacks reach ST-AVQA's inputs through every branch: the visual maps through the
// spatial grounding (which keeps its tensor operations when the maps require gradients), the
// audio through the projections that steer it.
TEST(StAvqaModelAttack, EitherModalityIsMovedInsideItsBallAndTheLossRises) {
  torch::manual_seed(8);
  const StAvqaOptions o = testing::small_widths();
  train::Batch batch;
  batch.inputs = {torch::randn({4, 3, o.audio_dim}), torch::rand({4, 3, o.visual_channels, 3, 3})};
  batch.context = {torch::randint(1, o.vocab_size, {4, 5}, torch::kLong), at::Tensor(),
                   at::Tensor(), torch::arange(4, torch::kLong)};
  batch.labels = torch::tensor({0, 1, 2, 3}, torch::kLong);
  StAvqaModel model(StAvqaNet(o), {});
  model.set_training(false);
  const auto loss = [&](const train::Batch& b) {
    const torch::NoGradGuard no_grad;
    return torch::nn::functional::cross_entropy(model.fuse(model.encode(b)), b.labels)
        .item<double>();
  };
  const double clean = loss(batch);
  for (const std::size_t m : {0, 1}) {
    train::AttackOptions a;
    a.modalities = {m};
    a.radius = 1.0;
    a.steps = 5;
    const train::Batch adv = train::attack(model, batch, a);
    const auto norms = train::perturbation_norms(batch, adv, {m}, a.norm);
    SCOPED_TRACE(m == 0 ? "audio" : "visual");
    EXPECT_LE(norms.max().item<double>(), a.radius * (1 + 1e-5));
    EXPECT_GT(norms.min().item<double>(), 0.5 * a.radius);
    EXPECT_TRUE(torch::equal(adv.inputs[1 - m], batch.inputs[1 - m]));
    EXPECT_GT(loss(adv), clean);
  }
}

}  // namespace
}  // namespace avqa::net
