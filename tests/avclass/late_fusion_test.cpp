#include "avclass/late_fusion.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

namespace avqa::avclass {
namespace {

TEST(LateFusion, EveryFusionGivesLogitsAndUniModalLogitsAsTheOriginalTakesThem) {
  torch::manual_seed(0);
  const auto audio = torch::randn({5, 3, 16});
  const auto visual = torch::randn({5, 3, 32});
  for (const Fusion fusion :
       {Fusion::Sum, Fusion::Concat, Fusion::Film, Fusion::Gated, Fusion::Crmt}) {
    LateFusionClassifier model({16, 32, 8, 4, fusion});
    train::Batch b;
    b.inputs = {audio, visual};
    b.labels = torch::zeros({5}, torch::kLong);
    const auto e = model.encode(b);
    ASSERT_EQ(e.features.size(), 2u);
    EXPECT_EQ(e.features[0].sizes(), (std::vector<std::int64_t>{5, 8}));
    const auto logits = model.fuse(e);
    EXPECT_EQ(logits.sizes(), (std::vector<std::int64_t>{5, 4})) << to_string(fusion);
    const auto a = model.unimodal_logits(e, 0), v = model.unimodal_logits(e, 1);
    auto& net = *model.net();
    switch (fusion) {
      case Fusion::Sum: {
        // The two branches' layers add up to the fused logits.
        EXPECT_TRUE(torch::allclose(a + v, logits, 1e-5, 1e-6));
        break;
      }
      case Fusion::Concat: {
        // Split head: the blocks add up, the bias counted twice at half.
        EXPECT_TRUE(torch::allclose(a + v, logits, 1e-5, 1e-6));
        const auto w = net.named_parameters()["fc_out.weight"];
        EXPECT_TRUE(torch::allclose(
            a,
            e.features[0].matmul(w.narrow(1, 0, 8).t()) + net.named_parameters()["fc_out.bias"] / 2,
            1e-5, 1e-6));
        break;
      }
      case Fusion::Film:
      case Fusion::Gated:
        EXPECT_TRUE(torch::allclose(
            a, model.fuse({{e.features[0], torch::zeros_like(e.features[1])}, {}})));
        break;
      case Fusion::Crmt: {
        // a_m o_m with half the bias each: they add up like the split head's; only this fusion
        // is certifiable.
        EXPECT_TRUE(torch::allclose(a + v, logits, 1e-5, 1e-6));
        ASSERT_NE(train::as_certifiable(model), nullptr);
        const auto o = model.certified_logits(e).modality;
        EXPECT_TRUE(
            torch::allclose(a, 0.1 * o[0] + net.named_parameters()["crmt.bias"] / 2, 1e-5, 1e-6));
        LateFusionOptions wide{16, 32, 8, 4, fusion};
        wide.crmt_init = 1.0;  // --crmt-init reaches the head
        LateFusionClassifier other(wide);
        EXPECT_TRUE(torch::allclose(other.crmt_head()->integration(), torch::ones({2, 4})));
        break;
      }
    }
    if (fusion != Fusion::Crmt) {
      EXPECT_EQ(train::as_certifiable(model), nullptr);
    }
    // The encoder groups are the two input norms and MLPs and nothing else.
    EXPECT_EQ(model.encoder_parameters(0).size(), 6u);
    EXPECT_EQ(model.encoder_parameters(1).size(), 6u);
    EXPECT_GT(model.parameters().size(), 12u);
  }
  EXPECT_THROW(parse_fusion("late"), std::invalid_argument);
}

// The input norm makes each encoder blind to its features' overall scale (what decides SGD's
// step sizes otherwise); without it (runs written before the option) the scale passes through.
TEST(LateFusion, InputNormMakesEachEncoderIndependentOfItsFeaturesScale) {
  torch::manual_seed(1);
  const auto audio = torch::randn({4, 3, 16});
  const auto visual = torch::randn({4, 3, 32}) + 3;  // ReLU maps: positive, off zero
  LateFusionClassifier normed({16, 32, 8, 4, Fusion::Concat, true});
  LateFusionClassifier plain({16, 32, 8, 4, Fusion::Concat, false});
  const auto encode = [&](LateFusionClassifier& m, double scale) {
    train::Batch b;
    b.inputs = {audio * scale, visual * scale};
    return m.encode(b).features;
  };
  const auto a = encode(normed, 1), b = encode(normed, 40);
  // Equal up to LayerNorm's epsilon (1e-5 against a variance of about 1).
  EXPECT_TRUE(torch::allclose(a[0], b[0], 1e-3, 1e-4));
  EXPECT_TRUE(torch::allclose(a[1], b[1], 1e-3, 1e-4));
  const auto c = encode(plain, 1), d = encode(plain, 40);
  EXPECT_FALSE(torch::allclose(c[1], d[1], 1e-2, 1e-3));
  EXPECT_EQ(plain.encoder_parameters(0).size(), 4u);
}

}  // namespace
}  // namespace avqa::avclass
