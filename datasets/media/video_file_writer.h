#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>

namespace avqa::media {

/// How `VideoFileWriter` encodes: H.264 (libx264, yuv420p) + AAC (FFmpeg's native encoder) in
/// MP4. One encoder thread each, so the same input always gives the same stream.
struct VideoWriterOptions {
  int width = 224;                  ///< frame width in pixels (even)
  int height = 224;                 ///< frame height in pixels (even)
  int fps = 8;                      ///< constant frame rate
  int sample_rate = 16000;          ///< mono audio sample rate; 0 writes no audio stream
  int crf = 20;                     ///< x264 constant rate factor (lower = better)
  std::string preset = "veryfast";  ///< x264 speed preset
  int audio_bitrate = 64000;        ///< AAC bits per second
  int rotation = 0;  ///< display rotation metadata, clockwise degrees (0, 90, 180, 270)
};

/// Writes an MP4 file atomically: everything goes to a temporary file in the destination
/// folder, renamed onto `path` by `finish()`; a writer destroyed before `finish()` (an error,
/// an interruption) removes the temporary, so no half-written video ever looks complete.
class VideoFileWriter {
 public:
  VideoFileWriter(const std::filesystem::path& path, const VideoWriterOptions& options);
  ~VideoFileWriter();
  VideoFileWriter(const VideoFileWriter&) = delete;
  VideoFileWriter& operator=(const VideoFileWriter&) = delete;

  /// One RGB frame, 3 bytes per pixel, rows `stride` bytes apart ([height, width, 3]).
  void write_frame(const std::uint8_t* rgb, int stride);
  /// Mono samples in [-1, 1] at `sample_rate`; any chunk size.
  void write_audio(const float* samples, std::size_t count);
  /// Flushes the encoders, writes the trailer and renames the file into place.
  void finish();

  std::int64_t frames_written() const;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace avqa::media
