#include "avqa/original_checkpoint.h"

#include <map>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "core/checkpoint/torch_checkpoint.h"
#include "core/input_error.h"
#include "datasets/features/backbones.h"

namespace avqa::net {

StAvqaOptions infer_options(const checkpoint::NamedTensors& tensors,
                            const std::filesystem::path& source) {
  std::map<std::string, torch::Tensor> by_name;
  for (const auto& [key, tensor] : tensors)
    by_name[key.rfind("module.", 0) == 0 ? key.substr(7) : key] = tensor;
  auto shape = [&](const char* name, std::int64_t dims) {
    const auto it = by_name.find(name);
    if (it == by_name.end() || it->second.dim() != dims) {
      throw core::InputError({source.string(), std::nullopt, name},
                             "is missing or has the wrong rank: not an ST-AVQA checkpoint");
    }
    return it->second.sizes();
  };
  StAvqaOptions o;
  o.vocab_size = shape("question_encoder.word2vec.weight", 2)[0];
  o.hidden = shape("question_encoder.word2vec.weight", 2)[1];
  o.answers = shape("fc_ans.weight", 2)[0];
  o.audio_dim = shape("fc_a1.weight", 2)[1];
  o.visual_channels = shape("fc_gl.weight", 2)[1] - o.hidden;
  return o;
}

CheckpointImport load_original_checkpoint(StAvqaNet& net, const std::filesystem::path& path) {
  return load_original_checkpoint(net, checkpoint::read_torch_state_dict(path), path);
}

CheckpointImport load_original_checkpoint(StAvqaNet& net,
                                          const checkpoint::NamedTensors& file_tensors,
                                          const std::filesystem::path& path) {
  const std::string file = path.string();
  std::map<std::string, torch::Tensor> tensors;
  for (const auto& [key, tensor] : file_tensors) {
    const std::string name = key.rfind("module.", 0) == 0 ? key.substr(7) : key;
    tensors[name] = tensor;
  }
  CheckpointImport report;
  std::vector<std::pair<std::string, torch::Tensor>> targets;
  for (auto& p : net->named_parameters(/*recurse=*/true))
    targets.emplace_back(p.key(), p.value());
  for (auto& b : net->named_buffers(/*recurse=*/true))
    targets.emplace_back(b.key(), b.value());
  std::vector<std::string> missing;
  for (const auto& [name, target] : targets) {
    if (!target.defined()) continue;  // LibTorch's MultiheadAttention keeps undefined placeholders
    const auto it = tensors.find(name);
    if (it == tensors.end()) {
      missing.push_back(name);
      continue;
    }
    if (it->second.sizes() != target.sizes()) {
      std::ostringstream what;
      what << "has shape " << it->second.sizes() << ", the network expects " << target.sizes()
           << " (another configuration than the checkpoint's?)";
      throw core::InputError({file, std::nullopt, "module." + name}, what.str());
    }
  }
  if (!missing.empty()) {
    std::string list;
    for (const auto& m : missing)
      list += (list.empty() ? "" : ", ") + m;
    throw core::InputError(
        {file, std::nullopt, "module." + missing.front()},
        std::to_string(missing.size()) + " key(s) the network needs are missing: " + list);
  }
  torch::NoGradGuard no_grad;
  for (auto& [name, target] : targets) {
    if (!target.defined()) continue;
    target.copy_(tensors.at(name).to(target.dtype()));
    report.loaded.push_back(name);
    tensors.erase(name);
  }
  for (const auto& [name, tensor] : tensors)
    report.unused.push_back(name);
  return report;
}

checkpoint::NamedTensors to_original_layout(StAvqaNet& net) {
  const StAvqaOptions& o = net->options();
  std::vector<std::string> beyond;
  if (o.grounding_temperature != 1.0) {
    std::ostringstream temperature;
    temperature << "grounding_temperature " << o.grounding_temperature;
    beyond.push_back(temperature.str());
  }
  if (o.centre_patches) beyond.emplace_back("centre_patches");
  if (o.position_codes) beyond.emplace_back("position_codes");
  if (o.question_grounding) beyond.emplace_back("question_grounding");
  if (o.crmt_head) beyond.emplace_back("crmt_head");
  if (!beyond.empty()) {
    std::string list;
    for (const std::string& b : beyond)
      list += (list.empty() ? "" : ", ") + b;
    throw std::invalid_argument(
        "the original ST-AVQA code cannot compute this model (trained with " + list +
        "; the original grounds with plain cosines, raw patches, no codes, the audio alone and "
        "its own fusion head): its checkpoint would load there and answer otherwise");
  }
  checkpoint::NamedTensors out;
  for (const auto& p : net->named_parameters(/*recurse=*/true)) {
    if (p.value().defined()) out.emplace_back("module." + p.key(), p.value().detach());
  }
  const std::int64_t d = net->options().hidden;
  const std::int64_t a = net->options().audio_dim;
  auto zeros = [&](const std::string& name, std::vector<std::int64_t> shape) {
    out.emplace_back("module." + name, torch::zeros(shape));
  };
  zeros("fc_a1_pure.weight", {d, a});
  zeros("fc_a1_pure.bias", {d});
  zeros("fc_a2_pure.weight", {d, d});
  zeros("fc_a2_pure.bias", {d});
  zeros("fc_v.weight", {d, 2048});
  zeros("fc_v.bias", {d});
  zeros("fc.weight", {d, 2 * d});
  zeros("fc.bias", {d});
  for (const char* name : {"fc_st", "fc_aq", "fc_vq"}) {
    zeros(std::string(name) + ".weight", {d, d});
    zeros(std::string(name) + ".bias", {d});
  }
  out.emplace_back("module.norm3.weight", torch::ones({d}));
  zeros("norm3.bias", {d});
  // visual_net: torchvision's ResNet-18 names (our trunk has the same), its classifier, conv1_a.
  features::ResNet18 resnet;
  for (const auto& p : resnet->named_parameters())
    zeros("visual_net." + p.key(), p.value().sizes().vec());
  for (const auto& b : resnet->named_buffers()) {
    const bool variance =
        b.key().size() > 11 && b.key().compare(b.key().size() - 11, 11, "running_var") == 0;
    out.emplace_back("module.visual_net." + b.key(),
                     variance ? torch::ones_like(b.value()) : torch::zeros_like(b.value()));
  }
  zeros("visual_net.conv1_a.weight", {64, 1, 7, 7});
  zeros("visual_net.fc.weight", {1000, 512});
  zeros("visual_net.fc.bias", {1000});
  return out;
}

}  // namespace avqa::net
