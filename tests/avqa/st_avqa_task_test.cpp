#include "avqa/st_avqa_task.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "core/train/crmt.h"
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

// With the CRMT head, the answer is the head's combination of the two branches' logits and the
// question's; the visual branch reads the audio (audio-guided attention), which the Lipschitz
// table keeps as a cross term the classifier does not have.
TEST(StAvqaModelCrmt, TheAnswerIsTheHeadsCombinationAndTheVisualBranchReadsTheAudio) {
  torch::manual_seed(9);
  StAvqaOptions o = testing::small_widths();
  EXPECT_EQ(
      train::as_certifiable(*std::make_unique<StAvqaModel>(StAvqaNet(o), GroundingLossWeights{})),
      nullptr);
  o.crmt_head = true;
  StAvqaModel model(StAvqaNet(o), {});
  ASSERT_NE(train::as_certifiable(model), nullptr);
  model.set_training(false);
  train::Batch batch;
  batch.inputs = {torch::randn({4, 3, o.audio_dim}), torch::rand({4, 3, o.visual_channels, 3, 3})};
  batch.context = {torch::randint(1, o.vocab_size, {4, 5}, torch::kLong), at::Tensor(),
                   at::Tensor(), torch::arange(4, torch::kLong)};
  batch.labels = torch::tensor({0, 1, 2, 3}, torch::kLong);
  const train::Encoded e = model.encode(batch);
  const train::CertifiedLogits l = model.certified_logits(e);
  ASSERT_EQ(l.modality.size(), 2u);
  ASSERT_TRUE(l.context.defined());
  EXPECT_TRUE(torch::allclose(model.fuse(e), model.crmt_head()->combine(l.modality, l.context)));
  // The question's logits do not move with the media.
  train::Batch moved = batch;
  moved.inputs = {batch.inputs[0] + 1, batch.inputs[1] * 2};
  EXPECT_TRUE(torch::allclose(model.certified_logits(model.encode(moved)).context, l.context));

  struct OneBatch : train::TrainingData {
    train::Batch b;
    std::size_t size() const override { return static_cast<std::size_t>(b.size()); }
    train::Batch load(const std::vector<std::size_t>& indices, bool, std::uint64_t) const override {
      std::vector<std::int64_t> rows(indices.begin(), indices.end());
      const auto index = torch::tensor(rows, torch::kLong);
      train::Batch out = b;
      for (auto& x : out.inputs)
        x = x.index_select(0, index);
      out.context[0] = b.context[0].index_select(0, index);
      out.context[3] = b.context[3].index_select(0, index);
      out.labels = b.labels.index_select(0, index);
      return out;
    }
  } data;
  data.b = batch;
  const at::Tensor lip = train::estimate_lipschitz(model, data, 4, 100);
  ASSERT_EQ(lip.sizes(), (std::vector<std::int64_t>{2, 2, o.answers}));
  EXPECT_GT(lip[0][0].max().item<double>(), 0);  // audio logits <- audio
  EXPECT_GT(lip[1][1].max().item<double>(), 0);  // visual logits <- visual maps
  EXPECT_GT(lip[1][0].max().item<double>(), 0);  // visual logits <- audio, through the attention
  EXPECT_EQ(lip[0][1].max().item<double>(), 0);  // the audio branch never sees the maps
}

}  // namespace
}  // namespace avqa::net
