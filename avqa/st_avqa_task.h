#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "avqa/grounding_objectives.h"
#include "avqa/qa_dataset.h"
#include "avqa/st_avqa_net.h"
#include "core/train/modality_model.h"
#include "core/train/trainer.h"

// ST-AVQA as a task of the training core. Its two branches:
//  - audio: fc_a1, fc_a2 (the audio projections, which also steer the spatial grounding) and the
//    audio temporal grounding (attn_a, linear21, linear22, norm2);
//  - visual: fc_gl (the visual side of the spatial grounding) and the visual temporal grounding
//    (attn_v, linear11, linear12, norm1).
// The question encoder, the match head (fc1-fc4, which reads both) and the fusion/answer head
// belong to neither. Uni-modal logits: the answer with the other branch's fused half zeroed
// (StAvqaNet::answer). Limits of that choice: the visual features were computed under audio-guided
// attention, so "visual alone" still carries what the audio chose to look at; and the fusion
// bias and the question stay in both.
namespace avqa::net {

class StAvqaModel : public train::ModalityModel, public train::CertifiableModel {
 public:
  StAvqaModel(StAvqaNet net, GroundingLossWeights weights)
      : net_(std::move(net)), weights_(weights) {}

  std::vector<std::string> modalities() const override { return {"audio", "visual"}; }
  std::vector<at::Tensor> parameters() override;
  std::vector<at::Tensor> encoder_parameters(std::size_t m) override;
  void set_training(bool training) override;
  /// inputs {audio [B, T, A], visual [B, T, C, H, W]}; context {question [B, L], negatives or
  /// undefined, attention truth [B, T, HW] or undefined, video rows [B] int64}. state {question
  /// features [B, d], match positive [B*T, 2], match negative, spatial attention [B, T, HW],
  /// localization positive and negative [B*T], audio embeddings [B, T, d]}.
  train::Encoded encode(const train::Batch& batch) override;
  at::Tensor fuse(const train::Encoded& encoded) override;
  /// Cross-entropy of the answers plus, in training (batches with negatives), the weighted
  /// grounding losses: the match (training_loss), the localization ranking and the attention
  /// supervision (grounding_objectives.h) where their weights are not zero.
  at::Tensor loss(const at::Tensor& logits,
                  const at::Tensor& labels,
                  const train::Encoded& encoded,
                  const train::Batch& batch) override;
  void save(const std::filesystem::path& file) override;
  void load(const std::filesystem::path& file) override;
  /// Built with StAvqaOptions::crmt_head: the head, and the two branches' logits with the
  /// question's as the context.
  train::CrmtHeadImpl* crmt_head() override { return net_->crmt_head(); }
  train::CertifiedLogits certified_logits(const train::Encoded& encoded) override;

  StAvqaNet& net() { return net_; }

 private:
  StAvqaNet net_;
  GroundingLossWeights weights_;
};

/// A QaDataset as the training core reads it; training batches draw negatives (the original's
/// match loss), evaluation batches none; question_only zeroes the media.
class QaTrainingData : public train::TrainingData {
 public:
  QaTrainingData(const QaDataset& data, bool question_only)
      : data_(data), question_only_(question_only) {}
  std::size_t size() const override { return data_.size(); }
  train::Batch load(const std::vector<std::size_t>& indices,
                    bool training,
                    std::uint64_t seed) const override;

 private:
  const QaDataset& data_;
  bool question_only_;
};

}  // namespace avqa::net
