#pragma once

#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include <ATen/core/Tensor.h>

namespace avqa::net {

/// Named tensors in file order.
using NamedTensors = std::vector<std::pair<std::string, at::Tensor>>;

/// Reads a state-dict saved by Python's torch.save (the zip format of PyTorch >= 1.6:
/// <archive>/data.pkl plus one <archive>/data/<key> record per storage), including the
/// collections.OrderedDict with `_metadata` that model.state_dict() produces and LibTorch 1.13's
/// own unpickler refuses. The pickle is interpreted by a small validating machine that knows
/// only the opcodes a state-dict uses and only these globals: collections.OrderedDict,
/// torch._utils._rebuild_tensor_v2, torch._utils._rebuild_parameter and torch.<Type>Storage;
/// anything else is refused, never executed. Throws core::InputError naming the file and what
/// was wrong.
NamedTensors read_torch_state_dict(const std::filesystem::path& path);

/// Writes `tensors` (any CPU dtype, made contiguous) as a state-dict that Python's torch.load
/// reads back as a collections.OrderedDict. Atomic (temporary file + rename).
void write_torch_state_dict(const std::filesystem::path& path, const NamedTensors& tensors);

}  // namespace avqa::net
