#include "avqa/st_avqa_net.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <mutex>
#include <tuple>
#include <utility>
#include <vector>

#include <torch/torch.h>

#include "avqa/few_rows_linear.h"
#include "avqa/spatial_grounding.h"

namespace avqa::net {

namespace nn = torch::nn;
namespace F = torch::nn::functional;

namespace {

/// x [..., in] -> [..., out], as torch::nn::Linear computes it. A few rows (batch-1 answers) go
/// through few_rows_linear; training batches and anything autograd must see keep F::linear.
torch::Tensor affine(const torch::Tensor& x,
                     const torch::Tensor& weight,
                     const torch::Tensor& bias) {
  const auto in = weight.size(1);
  const auto rows = x.numel() / in;
  const bool autograd =
      torch::GradMode::is_enabled() && (x.requires_grad() || weight.requires_grad());
  if (autograd || rows > kFewRows || x.scalar_type() != torch::kFloat32 ||
      weight.scalar_type() != torch::kFloat32 || !x.device().is_cpu())
    return F::linear(x, weight, bias);
  auto sizes = x.sizes().vec();
  sizes.back() = weight.size(0);
  return few_rows_linear(x.reshape({rows, in}), weight, bias).view(sizes);
}

torch::Tensor affine(const torch::Tensor& x, const nn::Linear& layer) {
  return affine(x, layer->weight, layer->bias);
}

/// An LSTM's input projection W_ih x + b_ih + b_hh of inputs x [..., E], with nn::LSTM's
/// all_weights() (w_ih [4H, E], w_hh [4H, H], b_ih, b_hh) -> [..., 4H].
torch::Tensor lstm_input_projection(const torch::Tensor& x,
                                    const std::vector<torch::Tensor>& weights) {
  return affine(x, weights.at(0), weights.at(2) + weights.at(3));
}

/// The final (h, c) of a one-layer LSTM from zero state, given each step's input projection
/// W_ih x_t + b_ih + b_hh as inputs [L, B, 4H], with nn::LSTM's recurrent matrix w_hh [4H, H] and
/// gate order (i, f, g, o). Step by step so that each step is one GEMV at batch 1 (nn::LSTM's
/// GEMM repacks the 4 MB recurrent matrix 14 times: 2.7 ms -> 0.9 ms per question).
std::pair<torch::Tensor, torch::Tensor> lstm_final_state(const torch::Tensor& inputs,
                                                         const torch::Tensor& w_hh) {
  const auto hidden = w_hh.size(1);
  const auto batch = inputs.size(1);
  auto h = torch::zeros({batch, hidden}, inputs.options());
  auto c = torch::zeros_like(h);
  if (batch == 1 && !torch::GradMode::is_enabled() && inputs.scalar_type() == torch::kFloat32 &&
      inputs.device().is_cpu()) {
    // Inference, one question: per step one pass over the 4 MB recurrent matrix, the
    // transcendentals as three vectorised ATen calls and the rest in two plain loops (seven
    // tensor operations per step before; scalar std::exp and std::tanh took 36 us a step).
    const auto in = inputs.contiguous();
    const auto w = w_hh.contiguous();
    const std::int64_t width = 4 * hidden;
    auto gates = torch::empty({width}, inputs.options());
    auto sigmoids = torch::empty({width}, inputs.options());
    auto cell_input = torch::empty({hidden}, inputs.options());
    auto cell_tanh = torch::empty({hidden}, inputs.options());
    float* hp = h.data_ptr<float>();
    float* cp = c.data_ptr<float>();
    float* gp = gates.data_ptr<float>();
    const float* sp = sigmoids.data_ptr<float>();
    const float* gt = cell_input.data_ptr<float>();
    const float* ct = cell_tanh.data_ptr<float>();
    const auto c_view = c.view({hidden});
    for (std::int64_t t = 0; t < in.size(0); ++t) {
      const float* projected = in.data_ptr<float>() + t * width;  // W_ih x_t + b_ih + b_hh
      if (t == 0) {  // h is zero: the gates are the input projection alone
        std::memcpy(gp, projected, static_cast<std::size_t>(width) * sizeof(float));
      } else {
        matrix_vector(hp, hidden, w.data_ptr<float>(), projected, width, gp);
      }
      torch::sigmoid_out(sigmoids, gates);  // gate order i, f, g, o
      torch::tanh_out(cell_input, gates.narrow(0, 2 * hidden, hidden));
      for (std::int64_t j = 0; j < hidden; ++j)
        cp[j] = sp[hidden + j] * cp[j] + sp[j] * gt[j];
      torch::tanh_out(cell_tanh, c_view);
      for (std::int64_t j = 0; j < hidden; ++j)
        hp[j] = sp[3 * hidden + j] * ct[j];
    }
    return {h, c};
  }
  for (std::int64_t t = 0; t < inputs.size(0); ++t) {
    const auto gates = torch::addmm(inputs[t], h, w_hh.t());  // [B, 4H]
    // One sigmoid over all four gates (the cell gate's is unused): fewer dispatches per step.
    const auto sigmoids = torch::sigmoid(gates);
    c = torch::addcmul(sigmoids.narrow(1, hidden, hidden) * c, sigmoids.narrow(1, 0, hidden),
                       torch::tanh(gates.narrow(1, 2 * hidden, hidden)));
    h = sigmoids.narrow(1, 3 * hidden, hidden) * torch::tanh(c);
  }
  return {h, c};
}

/// nn::MultiheadAttention's forward (no extra key/value biases, key = value) for a single query
/// per batch row, with its parameters: query [B, d], sequence [T, B, d] -> attended [B, d] and
/// the weights averaged over heads [B, T], after dropout as torch returns them. With one query the
/// per-head scores are dot products along the contiguous head width rather than B*heads bmms
/// over transposed copies, and the projections of one row are GEMVs (see affine).
std::pair<torch::Tensor, torch::Tensor> attend_once(const nn::MultiheadAttention& attention,
                                                    const torch::Tensor& query,
                                                    const torch::Tensor& sequence) {
  const auto& o = attention->options;
  const auto d = o.embed_dim();
  const auto heads = o.num_heads();
  const auto head_width = d / heads;
  const auto t = sequence.size(0);
  const auto b = sequence.size(1);
  const auto& w = attention->in_proj_weight;  // [3d, d]: query, key, value rows
  const auto& bias = attention->in_proj_bias;
  const auto q = affine(query, w.narrow(0, 0, d), bias.narrow(0, 0, d)) *
                 (1.0 / std::sqrt(static_cast<double>(head_width)));
  const auto kv = affine(sequence, w.narrow(0, d, 2 * d), bias.narrow(0, d, 2 * d));  // [T, B, 2d]
  const auto k = kv.narrow(2, 0, d).reshape({t, b, heads, head_width});
  const auto v = kv.narrow(2, d, d).reshape({t, b, heads, head_width});
  const auto scores = (k * q.reshape({1, b, heads, head_width})).sum(3);  // [T, B, heads]
  const auto p =
      F::dropout(torch::softmax(scores, 0),
                 F::DropoutFuncOptions().p(o.dropout()).training(attention->is_training()));
  const auto attended = (p.unsqueeze(3) * v).sum(0).reshape({b, d});
  return {affine(attended, attention->out_proj), p.mean(2).t().contiguous()};
}

/// Sinusoidal codes of positions 0..count-1 [count, width] (width even): channel pairs (sin, cos)
/// of position * 10000^(-2k/width), the transformer's; each row then scaled to L2 norm `norm`.
torch::Tensor sinusoid_codes(std::int64_t count, std::int64_t width, double norm) {
  const auto position = torch::arange(count, torch::kFloat32).unsqueeze(1);  // [count, 1]
  const auto rate =
      torch::exp(torch::arange(0, width / 2, torch::kFloat32) * (-2.0 * std::log(10000.0) / width));
  const auto angle = position * rate.unsqueeze(0);  // [count, width / 2]
  const auto codes = torch::stack({torch::sin(angle), torch::cos(angle)}, 2).reshape({count, -1});
  return F::normalize(codes, F::NormalizeFuncOptions().dim(1)) * norm;
}

/// Codes of the patches of an h x w map, row-major as the maps flatten [h*w, channels]: the first
/// half of the channels codes the row, the second the column.
torch::Tensor grid_codes(std::int64_t h, std::int64_t w, std::int64_t channels, double norm) {
  const auto half = channels / 2;
  const auto rows = sinusoid_codes(h, half, norm / std::sqrt(2.0));
  const auto columns = sinusoid_codes(w, channels - half, norm / std::sqrt(2.0));
  return torch::cat({rows.unsqueeze(1).expand({h, w, half}),
                     columns.unsqueeze(0).expand({h, w, channels - half})},
                    2)
      .reshape({h * w, channels});
}

}  // namespace

QuestionEncoderImpl::QuestionEncoderImpl(const StAvqaOptions& o) {
  word2vec_ = register_module("word2vec", nn::Embedding(o.vocab_size, o.hidden));
  lstm_ = register_module("lstm", nn::LSTM(nn::LSTMOptions(o.hidden, o.hidden).num_layers(1)));
  fc_ = register_module("fc", nn::Linear(2 * o.hidden, o.hidden));
}

torch::Tensor QuestionEncoderImpl::forward(const torch::Tensor& words) {
  TORCH_CHECK(words.dim() == 2, "question must be [B, L] word ids, got ", words.sizes());
  torch::Tensor h, c;  // [B, H] each
  if (torch::GradMode::is_enabled()) {
    // Training keeps nn::LSTM and its autograd: the step-by-step loop below was measured for
    // inference only.
    const auto embedded = torch::tanh(word2vec_(words)).transpose(0, 1);  // [L, B, E]: time-major
    const auto state = std::get<1>(lstm_->forward(embedded));
    h = std::get<0>(state)[0];
    c = std::get<1>(state)[0];
  } else {
    const auto weights = lstm_->all_weights();  // w_ih [4H, E], w_hh [4H, H], b_ih, b_hh
    const auto table = word_inputs(weights);
    const auto inputs =
        table.defined()
            ? table.index_select(0, words.reshape(-1)).view({words.size(0), words.size(1), -1})
            : lstm_input_projection(torch::tanh(word2vec_(words)), weights);
    std::tie(h, c) = lstm_final_state(inputs.transpose(0, 1), weights.at(1));  // time-major
  }
  return affine(torch::tanh(torch::cat({h, c}, 1)), fc_);
}

torch::Tensor QuestionEncoderImpl::word_inputs(const std::vector<torch::Tensor>& weights) {
  const torch::Tensor& embedding = word2vec_->weight;
  // Up to 8 MB (1,024 words at the original width); SentencePiece vocabularies can be larger.
  constexpr std::int64_t kMaxTableFloats = 2 << 20;
  if (embedding.size(0) * weights.at(0).size(0) > kMaxTableFloats) return {};
  // Optimiser steps and loading write in place (the version counter moves); assigning a new
  // tensor changes the storage.
  std::vector<std::int64_t> stamp;
  for (const torch::Tensor* t : {&embedding, &weights.at(0), &weights.at(2), &weights.at(3)}) {
    stamp.push_back(static_cast<std::int64_t>(t->_version()));
    stamp.push_back(reinterpret_cast<std::intptr_t>(t->data_ptr()));
  }
  const std::lock_guard<std::mutex> lock(word_inputs_mutex_);
  if (!word_inputs_.defined() || stamp != word_inputs_stamp_) {
    word_inputs_ = lstm_input_projection(torch::tanh(embedding), weights);
    word_inputs_stamp_ = std::move(stamp);
  }
  return word_inputs_;
}

StAvqaNetImpl::StAvqaNetImpl(StAvqaOptions o) : options_(o) {
  const std::int64_t d = o.hidden;
  // Spatial grounding takes dot products of audio embeddings [d] with visual patches [C].
  TORCH_CHECK(o.visual_channels == d, "the width (hidden ", d, ") must equal the visual channels (",
              o.visual_channels, ")");
  TORCH_CHECK(d % o.heads == 0, "heads (", o.heads, ") must divide the width (", d, ")");
  TORCH_CHECK(!o.position_codes || (d % 2 == 0 && o.position_code_scale > 0),
              "position codes need an even width and a positive scale, got width ", d,
              " and scale ", o.position_code_scale);
  TORCH_CHECK(o.grounding_temperature > 0, "the grounding temperature must be positive, got ",
              o.grounding_temperature);
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
  if (o.crmt_head) {
    crmt_fusion_a_ = register_module("crmt_fusion_a", nn::Linear(d, d));
    crmt_fusion_v_ = register_module("crmt_fusion_v", nn::Linear(d, d));
    crmt_question_ = register_module("crmt_question", nn::Linear(d, o.answers));
    crmt_ = register_module(
        "crmt", train::CrmtHead(train::CrmtHeadOptions{{d, d}, o.answers, o.crmt_init}));
  } else {
    fc_fusion_ = register_module("fc_fusion", nn::Linear(2 * d, d));
    fc_ans_ = register_module("fc_ans", nn::Linear(d, o.answers));
  }
  if (o.question_grounding) fc_qg_ = register_module("fc_qg", nn::Linear(d, o.visual_channels));
}

StAvqaNetImpl::Grounded StAvqaNetImpl::ground(const torch::Tensor& audio_n,
                                              const torch::Tensor& visual,
                                              const torch::Tensor& visual_negative,
                                              const torch::Tensor& question_n) {
  const auto n = audio_n.size(0);
  const auto c = visual.size(2);
  const auto audio_unit = F::normalize(audio_n, F::NormalizeFuncOptions().dim(1));  // [N, C]
  const auto head = [&](const torch::Tensor& grounded, const torch::Tensor& audio_rows) {
    const auto features = affine(torch::tanh(grounded), fc_gl_);  // [rows, d]
    const auto hidden = torch::relu(affine(torch::cat({audio_rows, features}, 1), fc1_));
    return std::pair{features,
                     affine(torch::relu(affine(torch::relu(affine(hidden, fc2_)), fc3_)), fc4_)};
  };
  // Scores (a_hat / tau) . V_i / |V_i| are the cosines over the temperature: the fused passes
  // need no change for it (they never assume a unit audio vector).
  const auto audio_query = options_.grounding_temperature == 1.0
                               ? audio_unit
                               : audio_unit / options_.grounding_temperature;
  // Centred patches (options_.centre_patches): the spatial mean is the raw maps' all the same.
  const auto patches = [&](const torch::Tensor& maps) {
    const auto flat = maps.reshape({n, c, -1});
    return options_.centre_patches ? flat - flat.mean(2, /*keepdim=*/true) : flat;
  };
  const auto pooled = [&](const torch::Tensor& maps, const SpatialGrounding& grounding) {
    return options_.centre_patches ? maps.reshape({n, c, -1}).mean(2) : grounding.pooled;
  };
  const torch::Tensor codes = options_.position_codes ? grid_codes(visual.size(3), visual.size(4),
                                                                   c, options_.position_code_scale)
                                                            .to(visual.device())
                                                      : torch::Tensor();  // [HW, C]
  // With position codes the attended half also carries where it looked: sum_i p_i code_i.
  const auto located = [&](const torch::Tensor& attended, const torch::Tensor& attention) {
    return codes.defined() ? attended + torch::matmul(attention, codes) : attended;
  };
  // question_grounding: the question's own attention over the same normalised patches, its
  // attended patch (and place) added to the audio's.
  const auto query_unit = options_.question_grounding
                              ? F::normalize(affine(question_n, fc_qg_),
                                             F::NormalizeFuncOptions().dim(1)) /
                                    options_.grounding_temperature
                              : torch::Tensor();  // [N, C]
  torch::Tensor question_attention;
  const auto steered = [&](const torch::Tensor& maps, torch::Tensor* attention_out) {
    const auto unit = F::normalize(patches(maps), F::NormalizeFuncOptions().dim(1));  // [N, C, HW]
    const auto keys = codes.defined() ? unit + codes.t().unsqueeze(0) : unit;
    const auto p = torch::softmax(torch::bmm(query_unit.unsqueeze(1), keys).squeeze(1), 1);
    if (attention_out) *attention_out = p;
    return located(torch::bmm(unit, p.unsqueeze(2)).squeeze(2), p);  // [N, C]
  };
  const auto attended = [&](const SpatialGrounding& grounding, const torch::Tensor& maps,
                            torch::Tensor* attention_out) {
    auto out = located(grounding.attended, grounding.attention);
    return options_.question_grounding ? out + steered(maps, attention_out) : out;
  };
  const SpatialGrounding g = ground_segments(patches(visual), audio_query);
  const auto grounded =
      torch::cat({pooled(visual, g), attended(g, visual, &question_attention)}, 1);  // [N, 2C]
  Grounded out;
  out.attention = g.attention;
  out.question_attention = question_attention;
  out.localization = (audio_unit * g.attended).sum(1);  // sum_i p_i cos_i
  if (!visual_negative.defined()) {
    std::tie(out.features, out.match) = head(grounded, audio_n);
    return out;
  }
  const SpatialGrounding h = ground_segments(patches(visual_negative), audio_query);
  const auto grounded_negative =
      torch::cat({pooled(visual_negative, h), attended(h, visual_negative, nullptr)}, 1);
  out.localization_negative = (audio_unit * h.attended).sum(1);
  if (2 * n <= kFewRows) {
    // A few rows (batch-1 answers): the negative frames go through the same layers as extra
    // rows, one pass over each weight matrix for both. The few-row kernel computes every row
    // alone, so the positive rows' results are the same as without negatives.
    const auto [features, match] =
        head(torch::cat({grounded, grounded_negative}, 0), torch::cat({audio_n, audio_n}, 0));
    out.features = features.narrow(0, 0, n);
    out.match = match.narrow(0, 0, n);
    out.match_negative = match.narrow(0, n, n);
    return out;
  }
  std::tie(out.features, out.match) = head(grounded, audio_n);
  out.match_negative = head(grounded_negative, audio_n).second;
  return out;
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
  auto [x, attention_weights] = attend_once(attention, query, sequence);  // [B, d], [B, T]
  weights = attention_weights;
  x = x + drop_b(affine(drop_a(torch::relu(affine(x, first))), second));
  return norm(x);
}

StAvqaOutput StAvqaNetImpl::forward(const torch::Tensor& audio,
                                    const torch::Tensor& visual,
                                    const torch::Tensor& question,
                                    const torch::Tensor& visual_negative) {
  StAvqaOutput out = encode(audio, visual, question, visual_negative);
  out.logits = answer(out.audio_features, out.visual_features, out.question_features);
  return out;
}

torch::Tensor StAvqaNetImpl::answer(const torch::Tensor& audio_features,
                                    const torch::Tensor& visual_features,
                                    const torch::Tensor& question_features) {
  if (crmt_) {
    const train::CertifiedLogits l =
        certified_answer(audio_features, visual_features, question_features);
    return crmt_->combine(l.modality, l.context);
  }
  auto fused = torch::cat({audio_features, visual_features}, 1);  // [B, 2d]
  fused = affine(torch::tanh(fused), fc_fusion_) * question_features;
  return affine(torch::tanh(fused), fc_ans_);
}

train::CertifiedLogits StAvqaNetImpl::certified_answer(const torch::Tensor& audio_features,
                                                       const torch::Tensor& visual_features,
                                                       const torch::Tensor& question_features) {
  TORCH_CHECK(crmt_, "certified_answer: the network was built without a CRMT head");
  const auto branch = [&](const torch::Tensor& z, nn::Linear& fusion) {
    return torch::tanh(affine(torch::tanh(z), fusion) * question_features);
  };
  return {crmt_->modality_logits(
              {branch(audio_features, crmt_fusion_a_), branch(visual_features, crmt_fusion_v_)}),
          affine(question_features, crmt_question_)};
}

StAvqaOutput StAvqaNetImpl::encode(const torch::Tensor& audio,
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
  const auto q = question_encoder_(question);                         // [B, d]
  const auto a = affine(torch::relu(affine(audio, fc_a1_)), fc_a2_);  // [B, T, d]
  const auto a_n = a.reshape({b * t, d});
  if (visual_negative.defined()) {
    TORCH_CHECK(visual_negative.sizes() == visual.sizes(),
                "negative frames must have the positive frames' shape ", visual.sizes(), ", got ",
                visual_negative.sizes());
  }
  const auto q_n = options_.question_grounding
                       ? q.unsqueeze(1).expand({b, t, d}).reshape({b * t, d})
                       : torch::Tensor();
  const Grounded positive = ground(a_n, visual, visual_negative, q_n);
  out.match_positive = positive.match;
  out.spatial_attention = positive.attention.reshape({b, t, -1});
  if (positive.question_attention.defined())
    out.question_attention = positive.question_attention.reshape({b, t, -1});
  out.match_negative = positive.match_negative;
  out.audio_embeddings = a;
  out.localization_positive = positive.localization;
  out.localization_negative = positive.localization_negative;
  const auto v = positive.features.reshape({b, t, d});
  // With position codes the temporal attentions read each segment with its index; the means
  // beside them stay order-free.
  const auto when = [&](const torch::Tensor& sequence) {  // [T, B, d]
    if (!options_.position_codes) return sequence;
    return sequence +
           sinusoid_codes(t, d, options_.position_code_scale).to(sequence.device()).unsqueeze(1);
  };
  const auto v_att = temporal(attn_v_, linear11_, linear12_, dropout1_, dropout2_, norm1_, q,
                              when(v.transpose(0, 1)), out.temporal_visual);
  const auto a_att = temporal(attn_a_, linear21_, linear22_, dropout3_, dropout4_, norm2_, q,
                              when(a.transpose(0, 1)), out.temporal_audio);
  out.audio_features = a_att + a.mean(1);
  out.visual_features = v_att + v.mean(1);
  out.question_features = q;
  return out;
}

}  // namespace avqa::net
