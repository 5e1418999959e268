#include "core/train/modality_model.h"

#include <stdexcept>

#include <torch/torch.h>

namespace avqa::train {

Encoded with_zeroed(const Encoded& encoded, std::size_t m) {
  Encoded out = encoded;
  out.features.at(m) = torch::zeros_like(encoded.features.at(m));
  return out;
}

Encoded with_only(const Encoded& encoded, std::size_t m) {
  Encoded out = encoded;
  for (std::size_t k = 0; k < out.features.size(); ++k) {
    if (k != m) out.features[k] = torch::zeros_like(out.features[k]);
  }
  return out;
}

at::Tensor ModalityModel::unimodal_logits(const Encoded& encoded, std::size_t m) {
  return fuse(with_only(encoded, m));
}

at::Tensor ModalityModel::loss(const at::Tensor& logits,
                               const at::Tensor& labels,
                               const Encoded&,
                               const Batch&) {
  return torch::cross_entropy_loss(logits, labels);
}

at::Tensor split_head_logits(const Encoded& encoded,
                             std::size_t m,
                             const at::Tensor& weight,
                             const at::Tensor& bias) {
  std::int64_t offset = 0;
  for (std::size_t k = 0; k < m; ++k)
    offset += encoded.features.at(k).size(1);
  const auto& z = encoded.features.at(m);
  const auto block = weight.narrow(1, offset, z.size(1));
  const auto share = static_cast<double>(encoded.features.size());
  return torch::addmm(bias / share, z, block.t());
}

}  // namespace avqa::train
