#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include <ATen/core/Tensor.h>

#include "datasets/annotations.h"
#include "datasets/features/feature_cache.h"
#include "datasets/vocabulary.h"

namespace avqa::net {

/// A batch as StAvqaNet takes it.
struct QaBatch {
  at::Tensor audio;            ///< [B, T, audio_dim]
  at::Tensor visual;           ///< [B, T, C, H, W]
  at::Tensor visual_negative;  ///< [B, T, C, H, W], or undefined
  /// [B, T, H*W]: the cells of the instruments sounding in each segment (1 or 0), or undefined
  /// without attached truth (QaDataset::attach_truth)
  at::Tensor attention_truth;
  at::Tensor question;               ///< [B, L] int64
  at::Tensor label;                  ///< [B] int64
  std::vector<std::size_t> records;  ///< which questions, for predictions and per-type scores
};

/// Questions of one annotation file joined with their videos' features in a cache.
/// Media widths used when there is no feature cache (question-only baseline).
inline constexpr std::int64_t kBlindAudioDim = 128;
inline constexpr std::int64_t kBlindVisualChannels = 512;

class QaDataset {
 public:
  /// Encodes every question and answer (errors name the record) and finds every video in the
  /// cache (a video missing or not extracted is an error naming the record's `video_id`).
  /// Without a cache (null) every batch has zero media of VGGish/ResNet widths at 1x1: the
  /// question-only baseline on annotations whose videos are not at hand.
  /// `segments`: how many of the cache's segments the model sees, spread evenly (the original
  /// reads 10 of 60, rows 0, 6, ..., 54).
  QaDataset(const data::AnnotationSet& set,
            const data::WordVocabulary& words,
            const data::AnswerVocabulary& answers,
            std::shared_ptr<const features::FeatureCacheReader> cache,
            int segments);
  /// The same with a run's vocabularies: questions as words or as SentencePiece pieces.
  QaDataset(const data::AnnotationSet& set,
            const data::Vocabularies& vocab,
            std::shared_ptr<const features::FeatureCacheReader> cache,
            int segments);

  std::size_t size() const { return labels_.size(); }
  data::QuestionType type(std::size_t i) const { return types_[i]; }
  std::int64_t question_id(std::size_t i) const { return question_ids_[i]; }
  std::int64_t label(std::size_t i) const { return labels_[i]; }  ///< the answer's index
  /// The question's video as its row in the cache (0 without a cache).
  std::size_t video_row(std::size_t i) const { return videos_.empty() ? 0 : videos_[i]; }
  const std::string& video_id(std::size_t i) const;

  /// Reads the features of `indices`. With `negatives`, every segment also gets a frame of
  /// another random video of the cache (the original's negative sampling), drawn from `seed`.
  /// `zero_media` replaces audio and visual with zeros (the question-only baseline).
  QaBatch load(const std::vector<std::size_t>& indices,
               bool negatives,
               std::uint64_t seed,
               bool zero_media = false) const;

  /// Where negative frames come from.
  enum class Negatives {
    OtherVideo,  ///< a random frame of another video (the original)
    /// another second of the same video in which a different set of visible instruments sounds
    /// (only what plays differs, not the scene; needs attached truth); a segment whose video has
    /// no such second takes another video's frame
    SameVideo,
    /// each segment draws one of the two kinds by a coin: negatives that differ in what is seen
    /// and negatives that differ only in who plays
    Mixed,
  };
  static Negatives parse_negatives(const std::string& name);  ///< throws std::invalid_argument
  void set_negatives(Negatives kind) { negatives_ = kind; }

  /// Reads a generated dataset's truth (`truth_dir`/<video_id>.json, written by `avqa generate`)
  /// for every video of the questions: batches then carry attention_truth (sounding_cells at each
  /// segment's second), and same-video negatives know who plays when. Throws core::InputError
  /// naming a truth file that is missing or broken.
  void attach_truth(const std::filesystem::path& truth_dir);

 private:
  QaDataset(const data::AnnotationSet& set,
            std::vector<std::vector<std::int64_t>> questions,
            const data::AnswerVocabulary& answers,
            std::shared_ptr<const features::FeatureCacheReader> cache,
            int segments);

  std::shared_ptr<const features::FeatureCacheReader> cache_;
  std::vector<int> segments_;
  std::vector<std::vector<std::int64_t>> questions_;
  std::vector<std::int64_t> labels_;
  std::vector<std::size_t> videos_;
  std::vector<std::string> video_ids_;
  std::vector<data::QuestionType> types_;
  std::vector<std::int64_t> question_ids_;
  std::vector<std::size_t> done_videos_;
  std::vector<std::int64_t> visual_shape_;
  std::int64_t audio_dim_ = 0;
  /// A negative frame for segment row `own_row` of `record`'s video: (video, cache row).
  std::pair<std::size_t, int> negative_frame(std::size_t record,
                                             int own_row,
                                             std::size_t own_video,
                                             int cache_segments,
                                             std::mt19937_64& rng) const;

  Negatives negatives_ = Negatives::OtherVideo;
  /// Per video id with attached truth: the sounding cells [T * H*W] of the model's segments, and
  /// per cache row the set of visible instruments sounding then (a bit per instrument).
  struct VideoTruth {
    std::vector<float> cells;
    std::vector<std::uint64_t> arrangement;
  };
  std::map<std::string, VideoTruth> truth_;
};

}  // namespace avqa::net
