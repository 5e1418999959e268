#include "avqa/st_avqa_task.h"

#include <torch/torch.h>

#include "avqa/run_folder.h"
#include "avqa/trainer.h"

namespace avqa::net {

std::vector<at::Tensor> StAvqaModel::parameters() {
  return net_->parameters();
}

std::vector<at::Tensor> StAvqaModel::encoder_parameters(std::size_t m) {
  static const std::vector<std::vector<std::string>> branches = {
      {"fc_a1", "fc_a2", "attn_a", "linear21", "linear22", "norm2"},
      {"fc_gl", "attn_v", "linear11", "linear12", "norm1"}};
  std::vector<at::Tensor> out;
  for (const auto& module : branches.at(m)) {
    for (const auto& p : net_->named_children()[module]->parameters())
      out.push_back(p);
  }
  return out;
}

void StAvqaModel::set_training(bool training) {
  net_->train(training);
}

train::Encoded StAvqaModel::encode(const train::Batch& b) {
  const StAvqaOutput out = net_->encode(b.inputs.at(0), b.inputs.at(1), b.context.at(0),
                                        b.context.size() > 1 ? b.context[1] : at::Tensor());
  return {{out.audio_features, out.visual_features},
          {out.question_features, out.match_positive, out.match_negative, out.spatial_attention,
           out.localization_positive, out.localization_negative, out.audio_embeddings}};
}

at::Tensor StAvqaModel::fuse(const train::Encoded& e) {
  return net_->answer(e.features.at(0), e.features.at(1), e.state.at(0));
}

train::CertifiedLogits StAvqaModel::certified_logits(const train::Encoded& e) {
  return net_->certified_answer(e.features.at(0), e.features.at(1), e.state.at(0));
}

at::Tensor StAvqaModel::loss(const at::Tensor& logits,
                             const at::Tensor& labels,
                             const train::Encoded& e,
                             const train::Batch& batch) {
  StAvqaOutput out;
  out.logits = logits;
  out.match_positive = e.state.at(1);
  out.match_negative = e.state.at(2);
  if (!out.match_negative.defined()) return torch::cross_entropy_loss(logits, labels);
  auto loss = training_loss(out, labels, weights_.match);
  const double temperature = net_->options().grounding_temperature;
  if (weights_.localization > 0) {
    loss =
        loss + weights_.localization * localization_loss(e.state.at(4), e.state.at(5), temperature);
  }
  if (weights_.batch_localization > 0) {
    const at::Tensor& maps = batch.inputs.at(1);  // [B, T, C, H, W]
    loss = loss +
           weights_.batch_localization * batch_localization_loss(e.state.at(6), maps.flatten(3),
                                                                 batch.context.at(3), temperature);
  }
  const at::Tensor truth = batch.context.size() > 2 ? batch.context[2] : at::Tensor();
  if (weights_.supervision > 0 && truth.defined()) {
    const at::Tensor& attention = e.state.at(3);  // [B, T, HW]
    loss = loss + weights_.supervision *
                      attention_supervision_loss(attention.reshape({-1, attention.size(2)}),
                                                 truth.reshape({-1, truth.size(2)}));
  }
  return loss;
}

void StAvqaModel::save(const std::filesystem::path& file) {
  save_model_weights(net_, file);
}

void StAvqaModel::load(const std::filesystem::path& file) {
  load_model_weights(net_, file);
}

train::Batch QaTrainingData::load(const std::vector<std::size_t>& indices,
                                  bool training,
                                  std::uint64_t seed) const {
  QaBatch q = data_.load(indices, training, seed, question_only_);
  train::Batch b;
  b.inputs = {q.audio, q.visual};
  std::vector<std::int64_t> videos;
  for (const std::size_t record : indices)
    videos.push_back(static_cast<std::int64_t>(data_.video_row(record)));
  b.context = {q.question, q.visual_negative, q.attention_truth, torch::tensor(videos)};
  b.labels = q.label;
  b.indices = q.records;
  return b;
}

}  // namespace avqa::net
