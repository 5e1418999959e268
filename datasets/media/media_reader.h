#pragma once

#include <cstdint>
#include <filesystem>
#include <vector>

namespace avqa::media {

struct DecodeOptions {
  bool video = true;         ///< decode every video frame as RGB24
  bool audio = true;         ///< decode the first audio stream
  int audio_sample_rate = 16000;  ///< audio is mixed down to mono and resampled to this rate
};

/// A whole file decoded in memory: for tests and short clips. Streaming, frame sampling and
/// resizing for feature extraction build on the same decoding loop.
struct DecodedMedia {
  int width = 0;
  int height = 0;
  double frame_rate = 0;                         ///< average frame rate the container states
  std::vector<std::vector<std::uint8_t>> frames;  ///< each [height, width, 3] RGB24, tightly packed
  std::vector<double> frame_times;                ///< presentation time of each frame in seconds
  bool has_audio = false;
  int sample_rate = 0;
  std::vector<float> samples;  ///< mono, [-1, 1]
  double duration = 0;         ///< container duration in seconds
};

/// Decodes `path`. Throws core::InputError naming the file when it is missing, not a media file,
/// has no video stream (when video is requested) or is corrupt.
DecodedMedia decode_media(const std::filesystem::path& path, const DecodeOptions& options = {});

}  // namespace avqa::media
