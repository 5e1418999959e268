#include "avqa/spatial_grounding.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

namespace avqa::net {
namespace {

namespace F = torch::nn::functional;

torch::Tensor unit(const torch::Tensor& audio) {
  return F::normalize(audio, F::NormalizeFuncOptions().dim(1));
}

// The definition (st-avqa.md section 2, step 3): normalise every patch (F::normalize: divide by
// the norm clamped at 1e-12), softmax of the cosine scores, weighted sum of the normalised
// patches, mean of the raw map.
SpatialGrounding by_definition(const torch::Tensor& maps, const torch::Tensor& audio_unit) {
  const auto patches = maps.transpose(1, 2);  // [N, HW, C]
  const auto patches_unit = F::normalize(patches, F::NormalizeFuncOptions().dim(2));
  const auto p = torch::softmax(torch::bmm(patches_unit, audio_unit.unsqueeze(2)).squeeze(2), 1);
  return {p, torch::bmm(p.unsqueeze(1), patches_unit).squeeze(1), patches.mean(1)};
}

struct Shape {
  std::int64_t segments, channels, patches;
};

// Patch counts that are and are not multiples of the vector width, the full 512 x 14x14 map, and
// more segments than threads.
const Shape kShapes[] = {{3, 33, 16}, {5, 8, 49}, {2, 512, 196}, {37, 20, 7}};

TEST(SpatialGrounding, FusedPassesEqualTheDefinition) {
  torch::manual_seed(0);
  torch::NoGradGuard no_grad;
  for (const Shape& s : kShapes) {
    const auto maps = torch::randn({s.segments, s.channels, s.patches}) * 3;
    const auto audio = unit(torch::randn({s.segments, s.channels}));
    const SpatialGrounding fused = ground_segments(maps, audio);
    const SpatialGrounding reference = by_definition(maps, audio);
    const SpatialGrounding composite = ground_segments_composite(maps, audio);
    const std::string where = "segments " + std::to_string(s.segments) + ", channels " +
                              std::to_string(s.channels) + ", patches " + std::to_string(s.patches);
    EXPECT_TRUE(torch::allclose(fused.attention, reference.attention, 1e-5, 1e-7)) << where;
    EXPECT_TRUE(torch::allclose(fused.attended, reference.attended, 1e-4, 1e-6)) << where;
    EXPECT_TRUE(torch::allclose(fused.pooled, reference.pooled, 1e-4, 1e-6)) << where;
    EXPECT_TRUE(torch::allclose(composite.attended, reference.attended, 1e-4, 1e-6)) << where;
    EXPECT_TRUE(torch::allclose(fused.attention.sum(1), torch::ones({s.segments}), 1e-5, 1e-5));
  }
}

// Gradients into the audio through both outputs that depend on it, against autograd through the
// definition; and a patch of zeros (norm clamped, as F::normalize does) stays finite.
TEST(SpatialGrounding, BackwardEqualsAutogradThroughTheDefinition) {
  torch::manual_seed(1);
  for (const Shape& s : kShapes) {
    auto maps = torch::randn({s.segments, s.channels, s.patches});
    maps.select(2, 0).zero_();
    const auto audio = torch::randn({s.segments, s.channels});
    const auto attended_weights = torch::randn({s.segments, s.channels});
    const auto attention_weights = torch::randn({s.segments, s.patches});
    const auto gradient = [&](bool fused) {
      const auto leaf = audio.clone().requires_grad_();
      const SpatialGrounding g =
          fused ? ground_segments(maps, unit(leaf)) : by_definition(maps, unit(leaf));
      ((g.attended * attended_weights).sum() + (g.attention * attention_weights).sum()).backward();
      return leaf.grad();
    };
    const auto fused = gradient(true);
    const auto reference = gradient(false);
    EXPECT_TRUE(torch::isfinite(fused).all().item<bool>());
    EXPECT_TRUE(torch::allclose(fused, reference, 1e-4, 1e-6))
        << "max difference " << (fused - reference).abs().max().item<float>() << " at channels "
        << s.channels << ", patches " << s.patches;
  }
}

// An attack on the visual input needs gradients into the maps too: they come from autograd
// through the tensor operations.
TEST(SpatialGrounding, MapsThatRequireGradientsGetThem) {
  torch::manual_seed(2);
  const auto maps = torch::randn({4, 16, 9});
  const auto audio = unit(torch::randn({4, 16}));
  const auto weights = torch::randn({4, 16});
  const auto gradient = [&](bool ours) {
    const auto leaf = maps.clone().requires_grad_();
    const SpatialGrounding g = ours ? ground_segments(leaf, audio) : by_definition(leaf, audio);
    ((g.attended + g.pooled) * weights).sum().backward();
    return leaf.grad();
  };
  const auto ours = gradient(true);
  ASSERT_TRUE(ours.defined());
  EXPECT_TRUE(torch::allclose(ours, gradient(false), 1e-4, 1e-6));
}

TEST(SpatialGrounding, RefusesMismatchedShapesAndOtherTypes) {
  EXPECT_THROW(ground_segments(torch::randn({2, 8, 4}), torch::randn({3, 8})), c10::Error);
  EXPECT_THROW(ground_segments(torch::randn({2, 8, 4}), torch::randn({2, 6})), c10::Error);
  EXPECT_THROW(ground_segments(torch::randn({2, 8}), torch::randn({2, 8})), c10::Error);
  EXPECT_THROW(ground_segments(torch::randn({2, 8, 4}, torch::kFloat64),
                               torch::randn({2, 8}, torch::kFloat64)),
               c10::Error);
}

}  // namespace
}  // namespace avqa::net
