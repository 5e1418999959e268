#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "avqa/st_avqa_net.h"
#include "core/checkpoint/torch_checkpoint.h"

namespace avqa::net {

/// The widths a checkpoint was trained with, read off its tensors' shapes (vocabulary, answers,
/// audio and visual widths, hidden size); heads and dropout keep their defaults. Throws
/// core::InputError when the tensors that tell are missing.
StAvqaOptions infer_options(const checkpoint::NamedTensors& tensors,
                            const std::filesystem::path& source);

/// What `load_original_checkpoint` matched.
struct CheckpointImport {
  std::vector<std::string> loaded;  ///< the network's parameters and buffers, all of them
  std::vector<std::string>
      unused;  ///< in the file, not used by the forward pass (visual_net.*, fc_v, ...)
};

/// Loads an original ST-AVQA checkpoint (avst.pt: torch.save of a DataParallel state-dict, keys
/// prefixed `module.`; the prefix is optional) into `net`. Every parameter and buffer of `net`
/// must be in the file with the same shape; a missing key or another shape throws
/// core::InputError naming the key. Keys the forward pass does not use are reported.
CheckpointImport load_original_checkpoint(StAvqaNet& net, const std::filesystem::path& path);
/// The same for tensors already read from `path` (named in errors).
CheckpointImport load_original_checkpoint(StAvqaNet& net,
                                          const checkpoint::NamedTensors& tensors,
                                          const std::filesystem::path& path);

/// The network's tensors in the original's layout, for Python's
/// `model.load_state_dict(torch.load(path))` (strict): `module.` prefixes, and the 139 tensors
/// the original model declares but never uses in its forward pass (visual_net, a ResNet-18 with an
/// extra conv1_a; fc_a1_pure, fc_a2_pure, fc_v, fc, fc_st, fc_aq, fc_vq, norm3), filled with zeros
/// (batch-norm variances and norm3's weight with ones) since nothing reads them. 184 entries
/// for the original widths (st-avqa.md section 4). Throws std::invalid_argument, naming the
/// options, for a network the original's forward pass would compute differently (a grounding
/// temperature other than 1, centred patches, position codes, question grounding, a CRMT head):
/// the file would load, then answer otherwise.
checkpoint::NamedTensors to_original_layout(StAvqaNet& net);

}  // namespace avqa::net
