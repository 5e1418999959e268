#pragma once

#include <cstdint>
#include <filesystem>
#include <vector>

namespace avqa::media {

struct DecodeOptions {
  bool video = true;              ///< decode every video frame as RGB24
  bool audio = true;              ///< decode the first audio stream
  int audio_sample_rate = 16000;  ///< audio is mixed down to mono and resampled to this rate
};

/// A whole file decoded in memory: for tests and short clips.
struct DecodedMedia {
  int width = 0;
  int height = 0;
  double frame_rate = 0;                          ///< average frame rate the container states
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

/// How `sample_clip` turns a video into the model's fixed-length input.
struct SamplingOptions {
  int segments = 60;  ///< T: segments sampled (MUSIC-AVQA: 60 one-second segments)
  double fps = 1.0;   ///< segments per second; segment i is centred at (i + 0.5) / fps
  int frame_size =
      224;  ///< frames resized to frame_size x frame_size (aspect not kept, as the original)
  int sample_rate = 16000;  ///< audio: mono at this rate
};

/// A video as the feature extractors consume it.
struct SampledClip {
  int segments = 0;
  int frame_size = 0;
  int samples_per_segment = 0;
  std::vector<std::uint8_t> frames;  ///< [segments, frame_size, frame_size, 3] RGB24
  std::vector<float> audio;          ///< [segments * samples_per_segment] mono
  bool has_audio = false;            ///< false: `audio` is silence standing in for a missing track
  double real_seconds = 0;           ///< the video's own length
  int rotation = 0;                  ///< degrees the display matrix asked for, already applied
};

/// Samples `segments` frames (the one nearest each segment centre, by timestamp, so variable
/// frame rates work) and the audio of each segment, streaming: memory stays at one clip's
/// samples whatever the video's resolution or length. A video shorter than the requested
/// length repeats its last second, frames and audio (the MUSIC-AVQA authors' rule); a missing
/// audio track gives silence and has_audio = false; rotation metadata is applied. Throws
/// core::InputError naming the file for missing, empty, truncated or corrupt files.
SampledClip sample_clip(const std::filesystem::path& path, const SamplingOptions& options = {});

}  // namespace avqa::media
