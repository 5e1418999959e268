#pragma once

#include <filesystem>
#include <string>
#include <string_view>

namespace avqa::core {

/// Writes `contents` to `path` so that readers see either the old file or the complete new
/// one, never a torn write: the bytes go to a temporary file in the same folder, are flushed
/// to disk, and the temporary is renamed over `path`. Throws std::runtime_error naming the
/// path on any failure, leaving an existing `path` untouched.
void write_file_atomically(const std::filesystem::path& path, std::string_view contents);

/// The whole file; throws core::InputError naming the path when it is a folder or unreadable.
std::string read_text_file(const std::filesystem::path& path);

}  // namespace avqa::core
