#include "avqa/st_avqa_net.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "avqa/few_rows_linear.h"
#include "tests/avqa/small_network.h"

namespace avqa::net {
namespace {

using testing::small_widths;
StAvqaOptions small() {
  return small_widths();
}

struct Batch {
  torch::Tensor audio, visual, negative, question;
};

Batch batch(const StAvqaOptions& o, std::int64_t b, std::int64_t t = 10, std::int64_t hw = 4) {
  return {torch::randn({b, t, o.audio_dim}), torch::randn({b, t, o.visual_channels, hw, hw}),
          torch::randn({b, t, o.visual_channels, hw, hw}),
          torch::randint(0, o.vocab_size, {b, 14})};
}

TEST(StAvqaNet, OriginalWidthsGiveTheOriginalParameterCountAndNames) {
  StAvqaNet net;
  std::int64_t count = 0;
  for (const auto& p : net->parameters())
    count += p.numel();
  EXPECT_EQ(count, 7916716);  // the parameters the original's forward uses (st-avqa.md section 3)
  const auto names = net->named_parameters().keys();
  for (const char* name :
       {"question_encoder.word2vec.weight", "question_encoder.lstm.weight_ih_l0",
        "question_encoder.lstm.bias_hh_l0", "question_encoder.fc.weight", "fc_a1.weight",
        "fc_gl.bias", "fc4.weight", "attn_v.in_proj_weight", "attn_a.out_proj.bias",
        "linear22.weight", "norm2.bias", "fc_fusion.weight", "fc_ans.bias"}) {
    EXPECT_NE(std::find(names.begin(), names.end(), name), names.end()) << name;
  }
}

TEST(StAvqaNet, OutputsAndAttentionsHaveTheDocumentedShapesAndSumToOne) {
  torch::manual_seed(0);
  const StAvqaOptions o = small();
  StAvqaNet net(o);
  net->eval();
  torch::NoGradGuard no_grad;
  const Batch x = batch(o, 3);
  const StAvqaOutput out = net->forward(x.audio, x.visual, x.question, x.negative);
  EXPECT_EQ(out.logits.sizes(), (std::vector<std::int64_t>{3, 7}));
  EXPECT_EQ(out.match_positive.sizes(), (std::vector<std::int64_t>{30, 2}));
  EXPECT_EQ(out.match_negative.sizes(), (std::vector<std::int64_t>{30, 2}));
  EXPECT_EQ(out.spatial_attention.sizes(), (std::vector<std::int64_t>{3, 10, 16}));
  EXPECT_EQ(out.temporal_visual.sizes(), (std::vector<std::int64_t>{3, 10}));
  EXPECT_EQ(out.temporal_audio.sizes(), (std::vector<std::int64_t>{3, 10}));
  EXPECT_TRUE(torch::allclose(out.spatial_attention.sum(2), torch::ones({3, 10}), 1e-5, 1e-5));
  EXPECT_TRUE(torch::allclose(out.temporal_visual.sum(1), torch::ones({3}), 1e-5, 1e-5));
  EXPECT_TRUE(torch::allclose(out.temporal_audio.sum(1), torch::ones({3}), 1e-5, 1e-5));
  // Cosine scores in [-1, 1]: two patch weights differ by at most e^2.
  const auto ratio = out.spatial_attention.amax(2) / out.spatial_attention.amin(2);
  EXPECT_LE(ratio.max().item<float>(), std::exp(2.0f) * 1.0001f);
  // Inference may skip the negative branch; the answer does not depend on it.
  const StAvqaOutput without = net->forward(x.audio, x.visual, x.question);
  EXPECT_FALSE(without.match_negative.defined());
  EXPECT_TRUE(torch::equal(without.logits, out.logits));
}

// The spatial grounding computed straight from its definition (normalise every patch and the
// audio, softmax of their dot products, weighted sum of normalised patches) against the network.
TEST(StAvqaNet, SpatialGroundingMatchesTheDefinition) {
  torch::manual_seed(4);
  const StAvqaOptions o = small();
  StAvqaNet net(o);
  net->eval();
  torch::NoGradGuard no_grad;
  const Batch x = batch(o, 2);
  const StAvqaOutput out = net->forward(x.audio, x.visual, x.question);
  auto params = net->named_parameters();
  const auto linear = [&](const std::string& name, const torch::Tensor& in) {
    return torch::matmul(in, params[name + ".weight"].t()) + params[name + ".bias"];
  };
  const auto a = linear("fc_a2", torch::relu(linear("fc_a1", x.audio))).reshape({20, o.hidden});
  const auto patches = x.visual.reshape({20, o.visual_channels, 16}).transpose(1, 2);  // [N, HW, C]
  const auto patches_unit = patches / patches.norm(2, {2}, true);
  const auto a_unit = a / a.norm(2, {1}, true);
  const auto p =
      torch::softmax(torch::bmm(patches_unit, a_unit.unsqueeze(2)).squeeze(2), 1);  // [N, HW]
  EXPECT_TRUE(torch::allclose(out.spatial_attention.reshape({20, 16}), p, 1e-5, 1e-6));
  const auto attended = torch::bmm(p.unsqueeze(1), patches_unit).squeeze(1);
  const auto pooled = patches.mean(1);
  const auto grounded = linear("fc_gl", torch::tanh(torch::cat({pooled, attended}, 1)));
  const auto match = linear(
      "fc4", torch::relu(linear(
                 "fc3", torch::relu(linear(
                            "fc2", torch::relu(linear("fc1", torch::cat({a, grounded}, 1))))))));
  EXPECT_TRUE(torch::allclose(out.match_positive, match, 1e-4, 1e-5));
}

TEST(StAvqaNet, BatchOfOneAgreesWithLargerBatches) {
  torch::manual_seed(1);
  const StAvqaOptions o = small();
  StAvqaNet net(o);
  net->eval();
  torch::NoGradGuard no_grad;
  const Batch x = batch(o, 4);
  const auto all = net->forward(x.audio, x.visual, x.question);
  for (std::int64_t i = 0; i < 4; ++i) {
    const auto one =
        net->forward(x.audio.narrow(0, i, 1), x.visual.narrow(0, i, 1), x.question.narrow(0, i, 1));
    EXPECT_TRUE(torch::allclose(one.logits[0], all.logits[i], 1e-5, 1e-5)) << i;
    EXPECT_TRUE(torch::allclose(one.temporal_visual[0], all.temporal_visual[i], 1e-5, 1e-5)) << i;
  }
}

// The network recomputed from torch's own modules (nn::LSTM, nn::MultiheadAttention, nn::Linear,
// nn::LayerNorm) with its parameters, and the spatial grounding from its definition: what the
// original's forward does, step by step (st-avqa.md section 2).
struct Reference {
  torch::Tensor logits, temporal_visual, temporal_audio;
};

Reference reference_forward(StAvqaNet& net, const Batch& x) {
  const auto modules = net->named_modules();
  const auto module = [&](const std::string& name) { return modules[name]; };
  const auto linear = [&](const std::string& name, const torch::Tensor& in) {
    return std::dynamic_pointer_cast<torch::nn::LinearImpl>(module(name))->forward(in);
  };
  const auto b = x.audio.size(0);
  const auto t = x.audio.size(1);
  const auto embedded = torch::tanh(std::dynamic_pointer_cast<torch::nn::EmbeddingImpl>(
                                        module("question_encoder.word2vec"))
                                        ->forward(x.question))
                            .transpose(0, 1);
  const auto state =
      std::get<1>(std::dynamic_pointer_cast<torch::nn::LSTMImpl>(module("question_encoder.lstm"))
                      ->forward(embedded));
  const auto q = linear("question_encoder.fc",
                        torch::tanh(torch::cat({std::get<0>(state), std::get<1>(state)}, 2)
                                        .transpose(0, 1)
                                        .reshape({b, -1})));
  const auto a = linear("fc_a2", torch::relu(linear("fc_a1", x.audio)));  // [B, T, d]
  const auto d = a.size(2);
  const auto patches = x.visual.reshape({b * t, d, -1}).transpose(1, 2);  // [N, HW, C]
  const auto patches_unit = patches / patches.norm(2, {2}, true);
  const auto a_unit = a.reshape({b * t, d}) / a.reshape({b * t, d}).norm(2, {1}, true);
  const auto p = torch::softmax(torch::bmm(patches_unit, a_unit.unsqueeze(2)).squeeze(2), 1);
  const auto attended = torch::bmm(p.unsqueeze(1), patches_unit).squeeze(1);
  const auto v =
      linear("fc_gl", torch::tanh(torch::cat({patches.mean(1), attended}, 1))).reshape({b, t, d});
  Reference out;
  const auto temporal = [&](const std::string& attention, const std::string& first,
                            const std::string& second, const std::string& norm,
                            const torch::Tensor& sequence, torch::Tensor& weights) {
    const auto seq = sequence.transpose(0, 1);  // [T, B, d]
    auto [y, w] = std::dynamic_pointer_cast<torch::nn::MultiheadAttentionImpl>(module(attention))
                      ->forward(q.unsqueeze(0), seq, seq);
    weights = w.squeeze(1);
    auto z = y.squeeze(0);
    z = z + linear(second, torch::relu(linear(first, z)));
    return std::dynamic_pointer_cast<torch::nn::LayerNormImpl>(module(norm))->forward(z);
  };
  const auto v_att = temporal("attn_v", "linear11", "linear12", "norm1", v, out.temporal_visual);
  const auto a_att = temporal("attn_a", "linear21", "linear22", "norm2", a, out.temporal_audio);
  const auto fused = torch::cat({a_att + a.mean(1), v_att + v.mean(1)}, 1);
  out.logits = linear("fc_ans", torch::tanh(linear("fc_fusion", torch::tanh(fused)) * q));
  return out;
}

// Inference takes its own paths (a step-by-step LSTM, GEMVs for a few rows, one query's attention
// as dot products, the fused grounding); training keeps autograd through the same parameters.
// Both against the modules, at the full width where the few-row GEMVs apply, and batches 1 and 3.
TEST(StAvqaNet, EqualsTorchModulesWithAndWithoutGradients) {
  torch::manual_seed(5);
  StAvqaOptions o = small();
  o.visual_channels = o.hidden = 512;
  StAvqaNet net(o);
  net->eval();  // no dropout, so both sides are deterministic
  for (const std::int64_t b : {1, 3}) {
    const Batch x = batch(o, b, 10, 3);
    {
      torch::NoGradGuard no_grad;
      const StAvqaOutput ours = net->forward(x.audio, x.visual, x.question);
      const Reference reference = reference_forward(net, x);
      EXPECT_TRUE(torch::allclose(ours.logits, reference.logits, 1e-4, 1e-5)) << "batch " << b;
      EXPECT_TRUE(torch::allclose(ours.temporal_visual, reference.temporal_visual, 1e-4, 1e-6));
      EXPECT_TRUE(torch::allclose(ours.temporal_audio, reference.temporal_audio, 1e-4, 1e-6));
    }
    const auto weights = torch::randn({b, o.answers});
    const auto gradients = [&](bool ours) {
      net->zero_grad();
      const auto logits = ours ? net->forward(x.audio, x.visual, x.question).logits
                               : reference_forward(net, x).logits;
      (logits * weights).sum().backward();
      std::vector<std::pair<std::string, torch::Tensor>> out;
      for (const auto& p : net->named_parameters()) {
        if (p.value().grad().defined()) out.emplace_back(p.key(), p.value().grad().clone());
      }
      return out;
    };
    const auto ours = gradients(true);
    const auto reference = gradients(false);
    ASSERT_EQ(ours.size(), reference.size());
    for (std::size_t i = 0; i < ours.size(); ++i) {
      EXPECT_EQ(ours[i].first, reference[i].first);
      EXPECT_TRUE(torch::allclose(ours[i].second, reference[i].second, 1e-3, 1e-6))
          << ours[i].first << " at batch " << b << ": max difference "
          << (ours[i].second - reference[i].second).abs().max().item<float>();
    }
  }
}

// Inference keeps each word's LSTM input projection: it must follow the weights when an optimiser
// or a checkpoint load changes them in place, or a new tensor replaces them; and vocabularies too
// large for the table (SentencePiece) compute the projection per question.
TEST(StAvqaNet, InferenceFollowsChangedWeightsAndLargeVocabularies) {
  torch::manual_seed(6);
  for (const std::int64_t vocabulary : {20, 20000}) {  // 20,000 x 4 x 32 floats: no table
    StAvqaOptions o = small();
    o.vocab_size = vocabulary;
    StAvqaNet net(o);
    net->eval();
    torch::NoGradGuard no_grad;
    const Batch x = batch(o, 2, 10, 3);
    const auto before = net->forward(x.audio, x.visual, x.question).logits;
    EXPECT_TRUE(torch::allclose(before, reference_forward(net, x).logits, 1e-4, 1e-5));
    auto params = net->named_parameters();
    params["question_encoder.lstm.weight_ih_l0"].mul_(1.5);
    params["question_encoder.word2vec.weight"].add_(0.25);
    const auto changed = net->forward(x.audio, x.visual, x.question).logits;
    EXPECT_FALSE(torch::allclose(changed, before, 1e-4, 1e-5)) << "vocabulary " << vocabulary;
    EXPECT_TRUE(torch::allclose(changed, reference_forward(net, x).logits, 1e-4, 1e-5))
        << "vocabulary " << vocabulary;
    params["question_encoder.lstm.bias_ih_l0"].set_data(
        torch::randn_like(params["question_encoder.lstm.bias_ih_l0"]));
    EXPECT_TRUE(torch::allclose(net->forward(x.audio, x.visual, x.question).logits,
                                reference_forward(net, x).logits, 1e-4, 1e-5))
        << "vocabulary " << vocabulary;
  }
}

TEST(StAvqaNet, TrainsEveryUsedLayerAndRefusesWrongShapes) {
  torch::manual_seed(2);
  const StAvqaOptions o = small();
  StAvqaNet net(o);
  net->train();
  const Batch x = batch(o, 2);
  const StAvqaOutput out = net->forward(x.audio, x.visual, x.question, x.negative);
  const auto labels = torch::tensor({1, 3});
  const auto match_labels =
      torch::cat({torch::ones({20}, torch::kLong), torch::zeros({20}, torch::kLong)});
  const auto loss = torch::cross_entropy_loss(out.logits, labels) +
                    0.5 * torch::cross_entropy_loss(
                              torch::cat({out.match_positive, out.match_negative}), match_labels);
  loss.backward();
  for (const auto& p : net->named_parameters()) {
    ASSERT_TRUE(p.value().grad().defined()) << p.key() << " gets no gradient";
    EXPECT_GT(p.value().grad().abs().sum().item<float>(), 0.f) << p.key();
  }
  EXPECT_THROW(net->forward(x.audio, x.visual.narrow(1, 0, 5), x.question), c10::Error);
  EXPECT_THROW(net->forward(x.audio.narrow(2, 0, 8), x.visual, x.question), c10::Error);
}

// The original's pools are blind to order: reversing the seconds or mirroring the frames leaves
// its answer as it was. With position codes the answer depends on both, while the spatial
// attention (where it points) stays exactly the original's for the same weights.
TEST(StAvqaNet, PositionCodesMakeTheAnswerDependOnWhereAndWhen) {
  StAvqaOptions o = small();
  torch::manual_seed(6);
  StAvqaNet plain(o);
  o.position_codes = true;
  o.position_code_scale = 20;  // codes that outweigh the random unit-scale features at init
  torch::manual_seed(6);
  StAvqaNet coded(o);  // the same weights: the codes add no parameters
  ASSERT_EQ(plain->parameters().size(), coded->parameters().size());
  plain->eval();
  coded->eval();
  torch::NoGradGuard no_grad;
  const Batch x = batch(o, 3);
  const auto logits = [&](StAvqaNet& net, const torch::Tensor& audio, const torch::Tensor& visual) {
    return net->forward(audio, visual, x.question).logits;
  };
  const auto reversed_audio = x.audio.flip({1});
  const auto reversed_visual = x.visual.flip({1});
  const auto mirrored = x.visual.flip({4});
  const auto moved = [](const torch::Tensor& a, const torch::Tensor& b) {
    return (a - b).abs().max().item<float>();
  };
  const auto base_plain = logits(plain, x.audio, x.visual);
  // Rounding moves the plain logits by ~1e-8 (sums in another order); the codes, at random
  // initial weights whose logits are small themselves, by ~1e-4.
  EXPECT_LT(moved(base_plain, logits(plain, reversed_audio, reversed_visual)), 1e-6);
  EXPECT_LT(moved(base_plain, logits(plain, x.audio, mirrored)), 1e-6);
  const auto base_coded = logits(coded, x.audio, x.visual);
  EXPECT_GT(moved(base_coded, logits(coded, reversed_audio, reversed_visual)), 1e-5);
  EXPECT_GT(moved(base_coded, logits(coded, x.audio, mirrored)), 1e-5);
  EXPECT_GT(moved(base_coded, base_plain), 1e-5);
  EXPECT_TRUE(torch::equal(plain->forward(x.audio, x.visual, x.question).spatial_attention,
                           coded->forward(x.audio, x.visual, x.question).spatial_attention));
  o.position_code_scale = 0;
  EXPECT_THROW(StAvqaNet{o}, c10::Error);
}

// The question-steered attention: a distribution over each segment's patches that follows the
// question, while the audio-steered one (what pointing scores) does not move with it; its query
// layer learns.
TEST(StAvqaNet, QuestionGroundingFollowsTheQuestionAndLeavesTheAudiosAttention) {
  StAvqaOptions o = small();
  torch::manual_seed(8);
  StAvqaNet plain(o);
  const Batch x = batch(o, 2);
  EXPECT_FALSE(plain->forward(x.audio, x.visual, x.question).question_attention.defined());
  o.question_grounding = true;
  o.position_codes = true;
  o.grounding_temperature = 0.1;
  torch::manual_seed(8);
  StAvqaNet steered(o);
  {
    steered->eval();
    torch::NoGradGuard no_grad;
    const StAvqaOutput out = steered->forward(x.audio, x.visual, x.question);
    ASSERT_EQ(out.question_attention.sizes(), (std::vector<std::int64_t>{2, 10, 16}));
    EXPECT_TRUE(torch::allclose(out.question_attention.sum(2), torch::ones({2, 10}), 1e-5, 1e-5));
    const auto other_question = (x.question + 1).remainder(o.vocab_size);
    const StAvqaOutput other = steered->forward(x.audio, x.visual, other_question);
    EXPECT_TRUE(torch::equal(out.spatial_attention, other.spatial_attention));
    EXPECT_GT((out.question_attention - other.question_attention).abs().max().item<float>(), 1e-3);
    EXPECT_GT((out.logits - other.logits).abs().max().item<float>(), 0.f);
  }
  steered->train();
  const StAvqaOutput out = steered->forward(x.audio, x.visual, x.question, x.negative);
  torch::cross_entropy_loss(out.logits, torch::tensor({1, 3})).backward();
  const auto params = steered->named_parameters();
  ASSERT_TRUE(params.contains("fc_qg.weight"));
  ASSERT_TRUE(params["fc_qg.weight"].grad().defined());
  EXPECT_GT(params["fc_qg.weight"].grad().abs().sum().item<float>(), 0.f);
}

// The AVX2 + FMA kernels and the portable ones (what a CPU without AVX2 runs) give the same
// answers: only the order of additions differs.
TEST(StAvqaNet, PortableKernelsAgreeWithTheVectorisedOnes) {
  torch::manual_seed(4);
  StAvqaNet net;
  net->eval();
  torch::NoGradGuard no_grad;
  const auto audio = torch::randn({1, 10, 128});
  const auto visual = torch::randn({1, 10, 512, 7, 7}).abs();
  const auto negative = torch::randn({1, 10, 512, 7, 7}).abs();
  const auto question = torch::randint(0, 93, {1, 14});
  const StAvqaOutput fast = net->forward(audio, visual, question, negative);
  use_kernels(Kernel::Portable);
  const StAvqaOutput portable = net->forward(audio, visual, question, negative);
  use_kernels(Kernel::Fastest);
  EXPECT_TRUE(torch::allclose(fast.logits, portable.logits, 1e-4, 1e-5));
  EXPECT_TRUE(torch::allclose(fast.match_negative, portable.match_negative, 1e-4, 1e-5));
  EXPECT_TRUE(torch::allclose(fast.temporal_visual, portable.temporal_visual, 1e-4, 1e-6));
}

}  // namespace
}  // namespace avqa::net
