#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

namespace avqa::features {

/// How features are stored on disk. float16 halves the size; reads always give float32.
enum class StorageType { Float16, Float32 };
const char* to_string(StorageType type);
StorageType parse_storage_type(const std::string& text);  ///< "f16"/"float16" or "f32"/"float32"

/// One modality's dataset in the cache: [videos, segments, ...segment_shape].
struct ModalityLayout {
  std::string name;                          ///< "audio", "visual"
  std::vector<std::uint64_t> segment_shape;  ///< e.g. {128} or {512, 14, 14}
  std::string backbone;                      ///< what made the features, e.g. "vggish"
  std::string weights;                       ///< weights file name and SHA-256, or "random-init"

  std::uint64_t segment_size() const;
};

/// Everything fixed when a cache is created.
struct CacheLayout {
  std::vector<std::string> video_ids;  ///< in index order
  int segments = 60;                   ///< T: sampled seconds per video
  double fps = 1.0;                    ///< segments per second of video
  int sample_rate = 16000;             ///< audio rate the audio features were computed at
  StorageType storage = StorageType::Float16;
  std::vector<ModalityLayout> modalities;
  std::map<std::string, std::string>
      attributes;  ///< anything else worth recording (normalisation, tool)
};

/// Extraction state of one video in the cache.
enum class VideoStatus : std::uint8_t { Pending = 0, Done = 1, Failed = 2 };

/// What one video contributes: a [segments x segment_size] block per modality, row-major.
struct VideoFeatures {
  std::map<std::string, std::vector<float>> modalities;
  float real_seconds = 0;  ///< the video's own length (shorter videos repeat their last second)
  bool has_audio = true;   ///< false: the audio features come from silence
};

/// Current schema of the HDF5 layout (root attribute "schema_version").
inline constexpr int kCacheSchemaVersion = 1;

/// The HDF5 feature cache, readable by h5py:
///   /video_ids [N] strings, /status [N] uint8 (0 pending, 1 done, 2 failed),
///   /real_seconds [N] float32, /has_audio [N] uint8,
///   /<modality> [N, T, ...] float16 or float32, one chunk per segment;
///   root attributes: schema_version, fps, sample_rate, segments, storage, tool, and per
///   modality <name>_backbone and <name>_weights.
/// Every chunk is allocated when the file is created and written in place afterwards, so the
/// file's structure never changes while features are written: a writer killed at any moment
/// leaves a readable cache whose finished videos are intact and whose others are pending.
class FeatureCacheWriter {
 public:
  /// Creates a new cache; throws when `path` exists.
  static FeatureCacheWriter create(const std::filesystem::path& path, const CacheLayout& layout);
  /// Reopens a cache to finish it; throws core::InputError naming the mismatch when `layout`
  /// (videos, segments, shapes, backbones, weights) is not the one it was created with.
  static FeatureCacheWriter resume(const std::filesystem::path& path, const CacheLayout& layout);

  FeatureCacheWriter(FeatureCacheWriter&&) noexcept;
  FeatureCacheWriter& operator=(FeatureCacheWriter&&) noexcept;
  ~FeatureCacheWriter();

  const CacheLayout& layout() const;
  std::vector<VideoStatus> status() const;
  /// Writes one video's features and marks it done (flushed to disk before returning).
  void write(std::size_t video, const VideoFeatures& features);
  void mark_failed(std::size_t video);

 private:
  struct Impl;
  explicit FeatureCacheWriter(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

/// Random access by video id; safe to use from several data-loader threads at once.
class FeatureCacheReader {
 public:
  explicit FeatureCacheReader(const std::filesystem::path& path);
  ~FeatureCacheReader();

  const CacheLayout& layout() const;
  const std::vector<VideoStatus>& status() const;
  std::optional<std::size_t> find(const std::string& video_id) const;
  float real_seconds(std::size_t video) const;
  bool has_audio(std::size_t video) const;

  /// Features of `modality` for `video` at the given segment indices (all when empty):
  /// [segments.size() x segment_size] floats. Throws core::InputError naming the cache and the
  /// video when it was not extracted (pending or failed) or the modality is unknown.
  std::vector<float> read(const std::string& modality,
                          std::size_t video,
                          const std::vector<int>& segments = {}) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

/// What a training run would trip over in a cache: videos not extracted (pending or failed)
/// and features holding NaN or infinity; one message per problem, naming the video and the
/// modality. Empty when every video is extracted and finite.
std::vector<std::string> verify_cache(const FeatureCacheReader& reader);

}  // namespace avqa::features
