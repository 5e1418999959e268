#include "avclass/late_fusion.h"

#include <stdexcept>

#include <torch/torch.h>

#include "core/checkpoint/torch_checkpoint.h"

namespace avqa::avclass {

namespace nn = torch::nn;

Fusion parse_fusion(const std::string& name) {
  if (name == "sum") return Fusion::Sum;
  if (name == "concat") return Fusion::Concat;
  if (name == "film") return Fusion::Film;
  if (name == "gated") return Fusion::Gated;
  if (name == "crmt") return Fusion::Crmt;
  throw std::invalid_argument("unknown fusion '" + name + "' (sum, concat, film, gated, crmt)");
}

const char* to_string(Fusion fusion) {
  switch (fusion) {
    case Fusion::Sum:
      return "sum";
    case Fusion::Concat:
      return "concat";
    case Fusion::Film:
      return "film";
    case Fusion::Gated:
      return "gated";
    case Fusion::Crmt:
      return "crmt";
  }
  return "?";
}

LateFusionNetImpl::LateFusionNetImpl(const LateFusionOptions& o) : options_(o) {
  const auto d = o.hidden;
  if (o.input_norm) {
    audio_norm_ = register_module("audio_norm", nn::LayerNorm(nn::LayerNormOptions({o.audio_dim})));
    visual_norm_ =
        register_module("visual_norm", nn::LayerNorm(nn::LayerNormOptions({o.visual_dim})));
  }
  audio_fc1_ = register_module("audio_fc1", nn::Linear(o.audio_dim, d));
  audio_fc2_ = register_module("audio_fc2", nn::Linear(d, d));
  visual_fc1_ = register_module("visual_fc1", nn::Linear(o.visual_dim, d));
  visual_fc2_ = register_module("visual_fc2", nn::Linear(d, d));
  switch (o.fusion) {
    case Fusion::Sum:
      fc_x_ = register_module("fc_x", nn::Linear(d, o.classes));
      fc_y_ = register_module("fc_y", nn::Linear(d, o.classes));
      break;
    case Fusion::Concat:
      fc_out_ = register_module("fc_out", nn::Linear(2 * d, o.classes));
      break;
    case Fusion::Film:
      fc_ = register_module("fc", nn::Linear(d, 2 * d));
      fc_out_ = register_module("fc_out", nn::Linear(d, o.classes));
      break;
    case Fusion::Gated:
      fc_x_ = register_module("fc_x", nn::Linear(d, d));
      fc_y_ = register_module("fc_y", nn::Linear(d, d));
      fc_out_ = register_module("fc_out", nn::Linear(d, o.classes));
      break;
    case Fusion::Crmt:
      crmt_ = register_module(
          "crmt", train::CrmtHead(train::CrmtHeadOptions{{d, d}, o.classes, o.crmt_init}));
      break;
  }
}

torch::Tensor LateFusionNetImpl::encode_audio(const torch::Tensor& audio) {
  const auto x = audio_norm_ ? audio_norm_(audio) : audio;
  return torch::relu(audio_fc2_(torch::relu(audio_fc1_(x)))).mean(1);
}

torch::Tensor LateFusionNetImpl::encode_visual(const torch::Tensor& visual) {
  const auto x = visual_norm_ ? visual_norm_(visual) : visual;
  return torch::relu(visual_fc2_(torch::relu(visual_fc1_(x)))).mean(1);
}

torch::Tensor LateFusionNetImpl::fuse(const torch::Tensor& a, const torch::Tensor& v) {
  switch (options_.fusion) {
    case Fusion::Sum:
      return fc_x_(a) + fc_y_(v);
    case Fusion::Concat:
      return fc_out_(torch::cat({a, v}, 1));
    case Fusion::Film: {
      const auto gamma_beta = fc_(a).chunk(2, 1);
      return fc_out_(gamma_beta[0] * v + gamma_beta[1]);
    }
    case Fusion::Gated:
      return fc_out_(torch::sigmoid(fc_x_(a)) * fc_y_(v));
    case Fusion::Crmt:
      return crmt_->combine(crmt_->modality_logits({a, v}));
  }
  throw std::logic_error("unknown fusion");
}

torch::Tensor LateFusionNetImpl::unimodal(const torch::Tensor& a,
                                          const torch::Tensor& v,
                                          std::size_t m) {
  switch (options_.fusion) {
    case Fusion::Sum:
      return m == 0 ? fc_x_(a) : fc_y_(v);
    case Fusion::Concat: {
      train::Encoded e;
      e.features = {a, v};
      return train::split_head_logits(e, m, fc_out_->weight, fc_out_->bias);
    }
    case Fusion::Film:
    case Fusion::Gated:
      return m == 0 ? fuse(a, torch::zeros_like(v)) : fuse(torch::zeros_like(a), v);
    case Fusion::Crmt: {  // a_m o_m with half the bias, as the split head
      const auto o = crmt_->modality_logits({a, v});
      const auto k = static_cast<std::int64_t>(m);
      return crmt_->integration()[k].unsqueeze(0) * o[m] + crmt_->bias().unsqueeze(0) / 2;
    }
  }
  throw std::logic_error("unknown fusion");
}

std::vector<at::Tensor> LateFusionClassifier::parameters() {
  return net_->parameters();
}

std::vector<at::Tensor> LateFusionClassifier::encoder_parameters(std::size_t m) {
  const char* names[2][3] = {{"audio_norm", "audio_fc1", "audio_fc2"},
                             {"visual_norm", "visual_fc1", "visual_fc2"}};
  std::vector<at::Tensor> out;
  const auto children = net_->named_children();
  for (const char* name : names[m]) {
    if (!children.contains(name)) continue;  // no norm without input_norm
    for (const auto& p : children[name]->parameters())
      out.push_back(p);
  }
  return out;
}

void LateFusionClassifier::set_training(bool training) {
  net_->train(training);
}

train::Encoded LateFusionClassifier::encode(const train::Batch& b) {
  return {{net_->encode_audio(b.inputs.at(0)), net_->encode_visual(b.inputs.at(1))}, {}};
}

at::Tensor LateFusionClassifier::fuse(const train::Encoded& e) {
  return net_->fuse(e.features.at(0), e.features.at(1));
}

at::Tensor LateFusionClassifier::unimodal_logits(const train::Encoded& e, std::size_t m) {
  return net_->unimodal(e.features.at(0), e.features.at(1), m);
}

void LateFusionClassifier::save(const std::filesystem::path& file) {
  const auto temp = file.string() + ".tmp";
  torch::save(net_, temp);
  std::filesystem::rename(temp, file);
}

void LateFusionClassifier::load(const std::filesystem::path& file) {
  checkpoint::require_sound_archive(file);
  torch::load(net_, file.string());
}

}  // namespace avqa::avclass

namespace avqa::avclass {

train::CrmtHeadImpl* LateFusionClassifier::crmt_head() {
  return net_->crmt().is_empty() ? nullptr : net_->crmt().get();
}

train::CertifiedLogits LateFusionClassifier::certified_logits(const train::Encoded& e) {
  if (crmt_head() == nullptr) throw std::logic_error("certified_logits: no CRMT head");
  return {net_->crmt()->modality_logits(e.features), {}};
}

}  // namespace avqa::avclass
