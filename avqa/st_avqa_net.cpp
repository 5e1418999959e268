#include "avqa/st_avqa_net.h"

#include <algorithm>
#include <vector>

#include <torch/torch.h>

namespace avqa::net {

namespace nn = torch::nn;
namespace F = torch::nn::functional;

QuestionEncoderImpl::QuestionEncoderImpl(const StAvqaOptions& o) {
  word2vec_ = register_module("word2vec", nn::Embedding(o.vocab_size, o.hidden));
  lstm_ = register_module("lstm", nn::LSTM(nn::LSTMOptions(o.hidden, o.hidden).num_layers(1)));
  fc_ = register_module("fc", nn::Linear(2 * o.hidden, o.hidden));
}

torch::Tensor QuestionEncoderImpl::forward(const torch::Tensor& words) {
  TORCH_CHECK(words.dim() == 2, "question must be [B, L] word ids, got ", words.sizes());
  const auto embedded = torch::tanh(word2vec_(words)).transpose(0, 1);  // [L, B, E]: time-major
  const auto [output, state] = lstm_->forward(embedded);
  (void)output;
  const auto& [h, c] = state;  // [1, B, H] each
  const auto both = torch::cat({h, c}, 2).transpose(0, 1).reshape({words.size(0), -1});
  return fc_(torch::tanh(both));
}

StAvqaNetImpl::StAvqaNetImpl(StAvqaOptions o) : options_(o) {
  const std::int64_t d = o.hidden;
  // Spatial grounding takes dot products of audio embeddings [d] with visual patches [C].
  TORCH_CHECK(o.visual_channels == d, "the width (hidden ", d, ") must equal the visual channels (",
              o.visual_channels, ")");
  TORCH_CHECK(d % o.heads == 0, "heads (", o.heads, ") must divide the width (", d, ")");
  question_encoder_ = register_module("question_encoder", QuestionEncoder(o));
  fc_a1_ = register_module("fc_a1", nn::Linear(o.audio_dim, d));
  fc_a2_ = register_module("fc_a2", nn::Linear(d, d));
  fc_gl_ = register_module("fc_gl", nn::Linear(o.visual_channels + d, d));
  fc1_ = register_module("fc1", nn::Linear(2 * d, 512));
  fc2_ = register_module("fc2", nn::Linear(512, 256));
  fc3_ = register_module("fc3", nn::Linear(256, 128));
  fc4_ = register_module("fc4", nn::Linear(128, 2));
  attn_a_ = register_module(
      "attn_a",
      nn::MultiheadAttention(nn::MultiheadAttentionOptions(d, o.heads).dropout(o.dropout)));
  attn_v_ = register_module(
      "attn_v",
      nn::MultiheadAttention(nn::MultiheadAttentionOptions(d, o.heads).dropout(o.dropout)));
  linear11_ = register_module("linear11", nn::Linear(d, d));
  linear12_ = register_module("linear12", nn::Linear(d, d));
  linear21_ = register_module("linear21", nn::Linear(d, d));
  linear22_ = register_module("linear22", nn::Linear(d, d));
  dropout1_ = register_module("dropout1", nn::Dropout(o.dropout));
  dropout2_ = register_module("dropout2", nn::Dropout(o.dropout));
  dropout3_ = register_module("dropout3", nn::Dropout(o.dropout));
  dropout4_ = register_module("dropout4", nn::Dropout(o.dropout));
  norm1_ = register_module("norm1", nn::LayerNorm(nn::LayerNormOptions({d})));
  norm2_ = register_module("norm2", nn::LayerNorm(nn::LayerNormOptions({d})));
  fc_fusion_ = register_module("fc_fusion", nn::Linear(2 * d, d));
  fc_ans_ = register_module("fc_ans", nn::Linear(d, o.answers));
}

StAvqaNetImpl::Grounded StAvqaNetImpl::ground(const torch::Tensor& audio_n,
                                              const torch::Tensor& visual) {
  const auto n = audio_n.size(0);
  const auto c = visual.size(2);
  const auto all_maps = visual.reshape({n, c, -1});  // [N, C, HW], a view of the input
  const auto hw = all_maps.size(2);
  // The original normalises every patch into a new [N, HW, C] tensor, 40 % of its training step.
  // The same numbers come from the patch norms alone: cosine scores are (a_hat . V_i) / |V_i|,
  // and the attended feature sum_i p_i V_i / |V_i| is a weighted sum of the raw maps.
  const auto audio_unit = F::normalize(audio_n, F::NormalizeFuncOptions().dim(1));  // [N, C]
  // Blocks of segments whose maps stay in cache from the norms to the weighted sums (and again
  // in backward): over a whole batch-64 tensor (257 MB at 14x14) each of the three passes went
  // to memory, and the channel-strided norm alone took 54 ms.
  constexpr std::int64_t kBlock = 16;
  std::vector<torch::Tensor> attention_blocks, attended_blocks, pooled_blocks;
  for (std::int64_t start = 0; start < n; start += kBlock) {
    const auto rows = std::min(kBlock, n - start);
    const auto maps = all_maps.narrow(0, start, rows);
    const auto norms = maps.square().sum(1).sqrt().clamp_min(1e-12);  // [rows, HW]
    const auto scores = (maps * audio_unit.narrow(0, start, rows).unsqueeze(2)).sum(1) / norms;
    const auto attention = torch::softmax(scores, 1);
    // sum_i p_i V_i / |V_i| and the spatial mean: reductions along the contiguous patch axis.
    attended_blocks.push_back((maps * (attention / norms).unsqueeze(1)).sum(2));  // [rows, C]
    pooled_blocks.push_back(maps.mean(2));
    attention_blocks.push_back(attention);
  }
  const auto attention = torch::cat(attention_blocks);  // [N, HW]
  const auto attended = torch::cat(attended_blocks);    // [N, C]
  const auto pooled = torch::cat(pooled_blocks);        // [N, C], before normalisation
  const auto features = fc_gl_(torch::tanh(torch::cat({pooled, attended}, 1)));  // [N, d]
  const auto match = fc4_(
      torch::relu(fc3_(torch::relu(fc2_(torch::relu(fc1_(torch::cat({audio_n, features}, 1))))))));
  return {features, attention, match};
}

torch::Tensor StAvqaNetImpl::temporal(nn::MultiheadAttention& attention,
                                      nn::Linear& first,
                                      nn::Linear& second,
                                      nn::Dropout& drop_a,
                                      nn::Dropout& drop_b,
                                      nn::LayerNorm& norm,
                                      const torch::Tensor& query,
                                      const torch::Tensor& sequence,
                                      torch::Tensor& weights) {
  auto [attended, attention_weights] =
      attention->forward(query, sequence, sequence);  // [1, B, d], [B, 1, T]
  weights = attention_weights.squeeze(1);
  auto x = attended.squeeze(0);
  x = x + drop_b(second(drop_a(torch::relu(first(x)))));
  return norm(x);
}

StAvqaOutput StAvqaNetImpl::forward(const torch::Tensor& audio,
                                    const torch::Tensor& visual,
                                    const torch::Tensor& question,
                                    const torch::Tensor& visual_negative) {
  TORCH_CHECK(audio.dim() == 3 && audio.size(2) == options_.audio_dim, "audio must be [B, T, ",
              options_.audio_dim, "], got ", audio.sizes());
  TORCH_CHECK(visual.dim() == 5 && visual.size(0) == audio.size(0) &&
                  visual.size(1) == audio.size(1) && visual.size(2) == options_.visual_channels,
              "visual must be [B, T, ", options_.visual_channels, ", H, W] matching audio ",
              audio.sizes(), ", got ", visual.sizes());
  TORCH_CHECK(question.dim() == 2 && question.size(0) == audio.size(0),
              "question must be [B, L], got ", question.sizes());
  const auto b = audio.size(0);
  const auto t = audio.size(1);
  const std::int64_t d = options_.hidden;

  StAvqaOutput out;
  const auto q = question_encoder_(question);         // [B, d]
  const auto a = fc_a2_(torch::relu(fc_a1_(audio)));  // [B, T, d]
  const auto a_n = a.reshape({b * t, d});
  const Grounded positive = ground(a_n, visual);
  out.match_positive = positive.match;
  out.spatial_attention = positive.attention.reshape({b, t, -1});
  if (visual_negative.defined()) {
    TORCH_CHECK(visual_negative.sizes() == visual.sizes(),
                "negative frames must have the positive frames' shape ", visual.sizes(), ", got ",
                visual_negative.sizes());
    out.match_negative = ground(a_n, visual_negative).match;
  }
  const auto v = positive.features.reshape({b, t, d});
  const auto query = q.unsqueeze(0);  // [1, B, d]
  const auto v_att = temporal(attn_v_, linear11_, linear12_, dropout1_, dropout2_, norm1_, query,
                              v.transpose(0, 1), out.temporal_visual);
  const auto a_att = temporal(attn_a_, linear21_, linear22_, dropout3_, dropout4_, norm2_, query,
                              a.transpose(0, 1), out.temporal_audio);
  auto fused = torch::cat({a_att + a.mean(1), v_att + v.mean(1)}, 1);  // [B, 2d]
  fused = fc_fusion_(torch::tanh(fused)) * q;
  out.logits = fc_ans_(torch::tanh(fused));
  return out;
}

}  // namespace avqa::net
