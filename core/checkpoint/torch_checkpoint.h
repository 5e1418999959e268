#pragma once

#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include <ATen/core/Tensor.h>

namespace avqa::checkpoint {

/// Named tensors in file order.
using NamedTensors = std::vector<std::pair<std::string, at::Tensor>>;

/// Reads a state-dict saved by Python's torch.save (the zip format of PyTorch >= 1.6:
/// <archive>/data.pkl plus one <archive>/data/<key> record per storage), including the
/// collections.OrderedDict with `_metadata` that model.state_dict() produces and LibTorch 1.13's
/// own unpickler refuses. The pickle is interpreted by a small validating machine that knows
/// only the opcodes a state-dict uses and only these globals: collections.OrderedDict,
/// torch._utils._rebuild_tensor_v2, torch._utils._rebuild_parameter and torch.<Type>Storage;
/// anything else is refused, never executed. Every offset and size is checked against the file
/// before it is read. Throws core::InputError naming the file and what was wrong.
NamedTensors read_torch_state_dict(const std::filesystem::path& path);

/// Writes `tensors` (any CPU dtype, made contiguous) as a state-dict that Python's torch.load
/// reads back as a collections.OrderedDict. Atomic (temporary file + rename).
void write_torch_state_dict(const std::filesystem::path& path, const NamedTensors& tensors);

/// Checks, with the validating zip reader, that `path` is a sound archive (every entry inside
/// the file, stored uncompressed) before LibTorch's own archive reader may see it: LibTorch 1.13
/// reads out of bounds on files that are not zip archives. Throws core::InputError otherwise.
void require_sound_archive(const std::filesystem::path& path);

/// Whether a sound archive is TorchScript (torch.jit.save: constants.pkl and code/ records)
/// rather than a torch.save state-dict. Throws like `require_sound_archive`.
bool is_torchscript_archive(const std::filesystem::path& path);

/// Weights for a module from either kind of file: a torch.save state-dict (a plain dict or a
/// model.state_dict() OrderedDict, e.g. torchvision's resnet18-*.pth) read by
/// `read_torch_state_dict`, or a TorchScript archive (validated first), whose parameters and
/// buffers are taken by name. Throws core::InputError naming the file for anything else.
/// `sha256`, when given, receives the file's SHA-256 (lower-case hex) from the same read.
NamedTensors read_weights(const std::filesystem::path& path, std::string* sha256 = nullptr);

}  // namespace avqa::checkpoint
