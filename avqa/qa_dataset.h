#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include <ATen/core/Tensor.h>

#include "datasets/annotations.h"
#include "datasets/features/feature_cache.h"
#include "datasets/vocabulary.h"

namespace avqa::net {

/// A batch as StAvqaNet takes it.
struct QaBatch {
  at::Tensor audio;                  ///< [B, T, audio_dim]
  at::Tensor visual;                 ///< [B, T, C, H, W]
  at::Tensor visual_negative;        ///< [B, T, C, H, W], or undefined
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
  const std::string& video_id(std::size_t i) const;

  /// Reads the features of `indices`. With `negatives`, every segment also gets a frame of
  /// another random video of the cache (the original's negative sampling), drawn from `seed`.
  /// `zero_media` replaces audio and visual with zeros (the question-only baseline).
  QaBatch load(const std::vector<std::size_t>& indices,
               bool negatives,
               std::uint64_t seed,
               bool zero_media = false) const;

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
};

}  // namespace avqa::net
