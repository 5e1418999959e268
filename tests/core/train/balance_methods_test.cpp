#include <cmath>

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "core/train/balance.h"
#include "core/train/diagnostics.h"
#include "tests/core/train/toy_model.h"

namespace avqa::train {
namespace {

TEST(GradientModulation, CoefficientDampsOnlyTheDominantModalityByOneMinusTanhOfTheRatio) {
  // S_v / S_a = 3: the visual modality dominates, k_v = 1 - tanh(0.5 * 3).
  auto k = modulation_coefficients(1.0, 3.0, 0.5);
  EXPECT_DOUBLE_EQ(k[0], 1.0);
  EXPECT_NEAR(k[1], 1 - std::tanh(1.5), 1e-12);
  k = modulation_coefficients(4.0, 2.0, 0.8);  // audio dominates, rho_a = 2
  EXPECT_NEAR(k[0], 1 - std::tanh(1.6), 1e-12);
  EXPECT_DOUBLE_EQ(k[1], 1.0);
  // No "-1" in the tanh: just past a ratio of 1 the coefficient is already 1 - tanh(alpha).
  k = modulation_coefficients(1.0, 1.0001, 1.0);
  EXPECT_NEAR(k[1], 1 - std::tanh(1.0001), 1e-9);
  EXPECT_LT(k[1], 0.25);
}

TEST(ModalityDropout, OnlyTheDominantModalityGetsADropProbability) {
  ModalityDropoutOptions o;
  o.q_base = 0.5;
  o.lambda = 0.5;
  auto q = drop_probabilities(3.0, 1.0, o);  // r = tanh(relu(3 - 1)) = tanh(2)
  EXPECT_NEAR(q[0], 0.5 * (1 + 0.5 * std::tanh(2.0)), 1e-12);
  EXPECT_DOUBLE_EQ(q[1], 0.0);
  q = drop_probabilities(1.0, 1.0, o);  // balanced: nobody drops
  EXPECT_DOUBLE_EQ(q[0], 0.0);
  EXPECT_DOUBLE_EQ(q[1], 0.0);
  o.q_base = 0.9;
  o.lambda = 1.0;
  q = drop_probabilities(1.0, 100.0, o);  // clipped to 1
  EXPECT_DOUBLE_EQ(q[1], 1.0);
}

TEST(ParetoGradients, MinNormWeightsOfTwoConflictingGradients) {
  // g_mm = (1, 0), g_u = (-1, 1): gamma = (2 - (-1)) / (1 + 2 + 2) = 0.6, and the combination
  // 0.6 g_mm + 0.4 g_u = (0.2, 0.4) has the smallest norm on the segment.
  const auto g_mm = torch::tensor({1.0, 0.0}, torch::kDouble);
  const auto g_u = torch::tensor({-1.0, 1.0}, torch::kDouble);
  const auto [w_mm, w_u] = pareto_weights(g_mm, g_u);
  EXPECT_NEAR(w_mm, 0.6, 1e-12);
  EXPECT_NEAR(w_u, 0.4, 1e-12);
  const auto norm = [&](double gamma) {
    return (gamma * g_mm + (1 - gamma) * g_u).norm().item<double>();
  };
  EXPECT_LT(norm(0.6), norm(0.55));
  EXPECT_LT(norm(0.6), norm(0.65));
  // Agreeing gradients: the uniform weights.
  const auto agree = pareto_weights(g_mm, torch::tensor({2.0, 1.0}, torch::kDouble));
  EXPECT_DOUBLE_EQ(agree.first, 0.5);
  // The original's clamps.
  EXPECT_DOUBLE_EQ(min_norm_weight(1.0, 1.0, 4.0), 0.999);
  EXPECT_DOUBLE_EQ(min_norm_weight(4.0, 1.5, 1.0), 0.001);
}

TEST(Relearning, InterpolatesTowardTheInitialWeightsByTheTanhOfThePurityGap) {
  EXPECT_NEAR(relearning_strength(0.9, 0.6, 3.0), std::tanh(0.9), 1e-12);
  EXPECT_NEAR(relearning_strength(0.6, 0.9, 3.0), std::tanh(0.9), 1e-12);
  auto p = torch::full({2, 2}, 2.0);
  const auto initial = torch::zeros({2, 2});
  soft_reinitialise({p}, {initial}, 0.25);
  EXPECT_TRUE(torch::allclose(p, torch::full({2, 2}, 1.5)));
}

TEST(Relearning, PurityAndKMeansOnSeparatedBlobs) {
  // clusters {0, 0}, {1, 1, 1}: majorities 1 and 2 of 5.
  EXPECT_NEAR(cluster_purity(torch::tensor({0, 0, 1, 1, 1}), torch::tensor({0, 1, 1, 1, 2})), 0.6,
              1e-12);
  auto g = at::detail::createCPUGenerator(3);
  const auto labels = torch::arange(60) % 3;
  const auto x = torch::one_hot(labels, 3).to(torch::kFloat) * 10 + torch::randn({60, 3}, g);
  const auto clusters = k_means(min_max_scale(x), 3, 0);
  EXPECT_DOUBLE_EQ(cluster_purity(clusters, labels), 1.0);
  const auto scaled = min_max_scale(x);
  EXPECT_NEAR(scaled.min().item<double>(), -1.0, 1e-6);
  EXPECT_NEAR(scaled.max().item<double>(), 1.0, 1e-6);
}

TEST(Valuation, ShapleyWithTheOriginalWorthsAndTheCopyTable) {
  // Fused right (worth 2), audio alone right, visual alone wrong.
  const auto phi = valuation_shapley(torch::tensor({true, false}), torch::tensor({true, true}),
                                     torch::tensor({false, true}));
  EXPECT_DOUBLE_EQ(phi[0][0].item<double>(), 1.5);
  EXPECT_DOUBLE_EQ(phi[0][1].item<double>(), 0.5);
  EXPECT_DOUBLE_EQ(phi[1][0].item<double>(), 0.0);  // (1 + 0 - 1) / 2
  EXPECT_DOUBLE_EQ(phi[1][1].item<double>(), 0.0);
  EXPECT_EQ(extra_copies(1.5), 0);
  EXPECT_EQ(extra_copies(1.0), 0);
  EXPECT_EQ(extra_copies(0.5), 1);
  EXPECT_EQ(extra_copies(0.0), 2);
  EXPECT_EQ(extra_copies(-0.5), 3);
}

TEST(Diagnostics, ShapleyOfAToyTwoModalityGame) {
  // Coalitions by bit mask: {audio} = 1, {visual} = 2, {both} = 3. Sample 0: audio alone right,
  // visual alone wrong, both right: audio gets all of it. Sample 1: only both together right:
  // they share it.
  const std::vector<at::Tensor> correct = {torch::tensor({1, 0}), torch::tensor({0, 0}),
                                           torch::tensor({1, 1})};
  const auto phi = shapley_values(correct, 2);
  EXPECT_DOUBLE_EQ(phi[0][0].item<double>(), 1.0);
  EXPECT_DOUBLE_EQ(phi[0][1].item<double>(), 0.0);
  EXPECT_DOUBLE_EQ(phi[1][0].item<double>(), 0.5);
  EXPECT_DOUBLE_EQ(phi[1][1].item<double>(), 0.5);
}

TEST(Diagnostics, AccuracyAndMacroF1FromTheConfusionMatrix) {
  // labels 0 0 1 2, predictions 0 1 1 1: class 0 F1 = 2/3, class 1 F1 = 2*1/(1+3) = 0.5,
  // class 2 F1 = 0.
  const auto s = classification_scores(torch::tensor({0, 1, 1, 1}), torch::tensor({0, 0, 1, 2}), 3);
  EXPECT_DOUBLE_EQ(s.accuracy, 0.5);
  EXPECT_NEAR(s.macro_f1, (2.0 / 3 + 0.5 + 0) / 3, 1e-12);
}

TEST(SplitHead, UniModalLogitsUseTheirBlockAndHalfTheBias) {
  const auto w = torch::arange(12, torch::kFloat).view({2, 6});
  const auto b = torch::tensor({2.0f, 4.0f});
  Encoded e;
  e.features = {torch::ones({1, 4}), torch::ones({1, 2})};
  // audio block: columns 0-3, row sums 0+1+2+3 = 6 and 6+7+8+9 = 30; plus b / 2.
  const auto audio = split_head_logits(e, 0, w, b);
  EXPECT_TRUE(torch::allclose(audio, torch::tensor({{7.0f, 32.0f}})));
  const auto visual = split_head_logits(e, 1, w, b);  // columns 4-5: 9 and 21
  EXPECT_TRUE(torch::allclose(visual, torch::tensor({{10.0f, 23.0f}})));
}

}  // namespace
}  // namespace avqa::train
