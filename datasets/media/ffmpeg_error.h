#pragma once

#include <string>

namespace avqa::media {

/// Silences FFmpeg's own log (encoder statistics, decoder complaints): every failure reaches the
/// user once, as an error naming the file, with FFmpeg's reason;
/// called by every reader and writer, effective once per process.
void limit_ffmpeg_logging();

/// FFmpeg's text for an AVERROR code.
std::string ffmpeg_error_text(int code);

/// Throws std::runtime_error("<context>: <FFmpeg's text>") when `code` < 0.
void throw_if_error(int code, const std::string& context);

}  // namespace avqa::media
