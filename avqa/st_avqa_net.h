#pragma once

#include <cstdint>
#include <mutex>
#include <vector>

#include <torch/nn/module.h>
#include <torch/nn/modules/activation.h>
#include <torch/nn/modules/dropout.h>
#include <torch/nn/modules/embedding.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/normalization.h>
#include <torch/nn/modules/rnn.h>
#include <torch/nn/pimpl.h>

#include "core/train/crmt.h"

namespace avqa::net {

/// Widths of the ST-AVQA network; the defaults are the original's (net_grd_avst/net_avst.py).
struct StAvqaOptions {
  std::int64_t vocab_size = 93;  ///< question words, <pad> = 0
  std::int64_t answers = 42;
  std::int64_t audio_dim = 128;        ///< VGGish embedding
  std::int64_t visual_channels = 512;  ///< ResNet-18 map channels
  std::int64_t hidden = 512;  ///< every internal width (embedding, LSTM, attention, fusion)
  std::int64_t heads = 4;     ///< temporal attention heads
  double dropout = 0.1;
  /// Spatial attention = softmax over patches of cos(audio, patch) / grounding_temperature. The
  /// original's 1 leaves it nearly uniform (cosines lie in [-1, 1]: two patches' weights differ
  /// by at most e^2); smaller values let it pick a patch. The peak (argmax) is the same for any
  /// temperature: only how much the attended feature, and so the losses, depend on it changes.
  double grounding_temperature = 1.0;
  /// Compare the audio with each patch minus its frame's mean patch instead of the raw patch.
  /// ResNet maps are non-negative after the ReLU, so raw patches share a large common direction
  /// and their cosines with any audio differ little; centred, a patch keeps what sets it apart.
  /// The pooled half of the grounded feature stays the raw mean. false: the original.
  bool centre_patches = false;
  /// Where and when: add fixed sinusoidal codes of each patch's (row, column) to what the spatial
  /// attention returns, and of each segment's index to the sequences the temporal attentions read
  /// (each code an L2-unit vector times position_code_scale). The original's attention pools are
  /// blind to order: after them no feature says where the attended patch lay or when a segment
  /// came, so "left", "first" or "the third that comes in" have no basis. The scores, and so where
  /// the attention points, are unchanged: the codes enter the attended values only. false: the
  /// original.
  bool position_codes = false;
  double position_code_scale = 1.0;
  /// A second spatial attention, steered by the question instead of the audio: softmax over
  /// patches of cos(fc_qg(q), patch) / grounding_temperature (with position_codes the patches'
  /// codes join their keys, so "left" can steer it), its attended patch added to the audio-steered
  /// one. The original grounds by the audio alone, so "the instrument on the left" or two named
  /// instruments cannot choose where it looks. false: the original.
  bool question_grounding = false;
  /// CRMT's certifiable head (`--robust crmt`; core/train/crmt.h) in place of fc_fusion and fc_ans,
  /// adapted to questions: each branch's answer feature u_m = tanh(crmt_fusion_m(tanh(z_m)) * q)
  /// (the original's fusion, one branch at a time) gives o_m through the head's normalised rows;
  /// the question's own logits crmt_question(q) are the part no attack on the media touches:
  /// h = a_audio * o_audio + a_visual * o_visual + crmt_question(q) + b.
  bool crmt_head = false;
  double crmt_init =
      0.1;  ///< the head's integration weights at the start (not saved: weights hold them)
};

/// Question encoder: Embedding -> tanh -> LSTM over every step (pads included, no packing) ->
/// concat(h_n, c_n) -> tanh -> Linear. Parameter names as the original's `question_encoder.*`.
/// forward: word ids [B, L] int64 -> [B, hidden].
class QuestionEncoderImpl : public torch::nn::Module {
 public:
  explicit QuestionEncoderImpl(const StAvqaOptions& options);
  torch::Tensor forward(const torch::Tensor& words);

 private:
  /// Inference: each word's LSTM input projection W_ih tanh(embedding) + b_ih + b_hh, [V, 4H]
  /// (a question becomes a gather instead of a 14-row GEMM), rebuilt when any of those
  /// parameters changes; undefined when the vocabulary makes it too large. weights: the LSTM's
  /// all_weights().
  torch::Tensor word_inputs(const std::vector<torch::Tensor>& weights);

  torch::nn::Embedding word2vec_{nullptr};
  torch::nn::LSTM lstm_{nullptr};
  torch::nn::Linear fc_{nullptr};
  torch::Tensor word_inputs_;
  std::vector<std::int64_t> word_inputs_stamp_;  ///< versions and storages it was built from
  std::mutex word_inputs_mutex_;                 ///< concurrent forwards share the table
};
TORCH_MODULE(QuestionEncoder);

/// What the network computes for a batch, including where and when it looked.
struct StAvqaOutput {
  torch::Tensor logits;          ///< [B, answers]
  torch::Tensor match_positive;  ///< [B*T, 2]: audio and its own frame
  torch::Tensor
      match_negative;  ///< [B*T, 2]: audio and another video's frame; undefined without negatives
  torch::Tensor
      spatial_attention;  ///< [B, T, H*W]: softmax over patches, per segment (positive frames)
  /// [B, T, H*W]: the question-steered attention (StAvqaOptions::question_grounding; else
  /// undefined)
  torch::Tensor question_attention;
  /// [B*T]: sum_i p_i cos(audio, patch_i), the attention-weighted cosine of each segment's audio
  /// with its own frame (a soft maximum over patches as the temperature falls), and [B*T] the same
  /// with the negative frame (undefined without negatives): what the localization loss ranks.
  torch::Tensor localization_positive;
  torch::Tensor localization_negative;
  torch::Tensor audio_embeddings;  ///< [B, T, hidden]: fc_a2's output, what queries the frames
  torch::Tensor temporal_visual;   ///< [B, T]: visual temporal attention (mean over heads)
  torch::Tensor temporal_audio;    ///< [B, T]: audio temporal attention (mean over heads)
  /// What the fusion reads: the audio branch's and the visual branch's answer features
  /// (temporally attended + mean over segments) [B, hidden] each, and the question [B, hidden].
  torch::Tensor audio_features;
  torch::Tensor visual_features;
  torch::Tensor question_features;
};

/// The spatio-temporal grounded audio-visual network of MUSIC-AVQA (CVPR 2022), exactly as
/// ../shared/specs/st-avqa.md section 2 describes it, with the original parameter names so its
/// checkpoints map one to one. Only the layers the forward pass uses are built.
class StAvqaNetImpl : public torch::nn::Module {
 public:
  explicit StAvqaNetImpl(StAvqaOptions options = {});

  /// audio [B, T, audio_dim]; visual [B, T, C, H, W]; question [B, L] int64;
  /// visual_negative [B, T, C, H, W] or undefined (inference: the match head's negative branch
  /// is skipped, which the answer does not depend on).
  StAvqaOutput forward(const torch::Tensor& audio,
                       const torch::Tensor& visual,
                       const torch::Tensor& question,
                       const torch::Tensor& visual_negative = {});

  /// Everything forward computes but the answer (logits stay undefined): where the training
  /// core's balance methods act on the two branches' features before the fusion.
  StAvqaOutput encode(const torch::Tensor& audio,
                      const torch::Tensor& visual,
                      const torch::Tensor& question,
                      const torch::Tensor& visual_negative = {});
  /// The fusion and answer head: logits [B, answers] from audio_features, visual_features and
  /// question_features [B, hidden]. Zeroing one branch's features gives that of the other alone
  /// (tanh(0) = 0 removes its half from the fusion layer; the bias stays).
  torch::Tensor answer(const torch::Tensor& audio_features,
                       const torch::Tensor& visual_features,
                       const torch::Tensor& question_features);
  /// With crmt_head: each branch's logits o_m [B, answers] and the question's (the context).
  train::CertifiedLogits certified_answer(const torch::Tensor& audio_features,
                                          const torch::Tensor& visual_features,
                                          const torch::Tensor& question_features);
  /// The CRMT head; nullptr without crmt_head.
  train::CrmtHeadImpl* crmt_head() { return crmt_.is_empty() ? nullptr : crmt_.get(); }

  const StAvqaOptions& options() const { return options_; }

 private:
  struct Grounded {
    torch::Tensor features;               // [N, hidden]
    torch::Tensor attention;              // [N, H*W]
    torch::Tensor question_attention;     // [N, H*W], with question_grounding
    torch::Tensor match;                  // [N, 2]
    torch::Tensor match_negative;         // [N, 2], with negative frames
    torch::Tensor localization;           // [N]
    torch::Tensor localization_negative;  // [N], with negative frames
  };
  /// question_n [N, hidden]: each segment's question (used with question_grounding only).
  Grounded ground(const torch::Tensor& audio_n,
                  const torch::Tensor& visual,
                  const torch::Tensor& visual_negative,
                  const torch::Tensor& question_n);
  torch::Tensor temporal(torch::nn::MultiheadAttention& attention,
                         torch::nn::Linear& first,
                         torch::nn::Linear& second,
                         torch::nn::Dropout& drop_a,
                         torch::nn::Dropout& drop_b,
                         torch::nn::LayerNorm& norm,
                         const torch::Tensor& query,
                         const torch::Tensor& sequence,
                         torch::Tensor& weights);

  StAvqaOptions options_;
  QuestionEncoder question_encoder_{nullptr};
  torch::nn::Linear fc_a1_{nullptr}, fc_a2_{nullptr}, fc_gl_{nullptr};
  torch::nn::Linear fc1_{nullptr}, fc2_{nullptr}, fc3_{nullptr}, fc4_{nullptr};
  torch::nn::MultiheadAttention attn_a_{nullptr}, attn_v_{nullptr};
  torch::nn::Linear linear11_{nullptr}, linear12_{nullptr}, linear21_{nullptr}, linear22_{nullptr};
  torch::nn::Dropout dropout1_{nullptr}, dropout2_{nullptr}, dropout3_{nullptr}, dropout4_{nullptr};
  torch::nn::LayerNorm norm1_{nullptr}, norm2_{nullptr};
  torch::nn::Linear fc_fusion_{nullptr}, fc_ans_{nullptr};
  torch::nn::Linear fc_qg_{nullptr};  ///< question_grounding: the question's query over patches
  torch::nn::Linear crmt_fusion_a_{nullptr}, crmt_fusion_v_{nullptr}, crmt_question_{nullptr};
  train::CrmtHead crmt_{nullptr};
};
TORCH_MODULE(StAvqaNet);

}  // namespace avqa::net
