#include "avqa/qa_dataset.h"

#include <random>

#include <torch/torch.h>

#include "avqa/grounding_diagnostics.h"
#include "core/input_error.h"
#include "datasets/synthetic/truth.h"

namespace avqa::net {

QaDataset::QaDataset(const data::AnnotationSet& set,
                     const data::WordVocabulary& words,
                     const data::AnswerVocabulary& answers,
                     std::shared_ptr<const features::FeatureCacheReader> cache,
                     int segments)
    : QaDataset(set, data::encode_questions(set, words), answers, std::move(cache), segments) {}

QaDataset::QaDataset(const data::AnnotationSet& set,
                     const data::Vocabularies& vocab,
                     std::shared_ptr<const features::FeatureCacheReader> cache,
                     int segments)
    : QaDataset(
          set, data::encode_questions(set, vocab), vocab.answers, std::move(cache), segments) {}

QaDataset::QaDataset(const data::AnnotationSet& set,
                     std::vector<std::vector<std::int64_t>> questions,
                     const data::AnswerVocabulary& answers,
                     std::shared_ptr<const features::FeatureCacheReader> cache,
                     int segments)
    : cache_(std::move(cache)), questions_(std::move(questions)) {
  labels_ = data::encode_answers(set, answers);
  if (!cache_) {
    // No features: the question-only baseline, on annotations whose videos are not at hand.
    if (segments <= 0) throw std::invalid_argument("--segments must be positive");
    for (int k = 0; k < segments; ++k)
      segments_.push_back(k);
    audio_dim_ = kBlindAudioDim;
    visual_shape_ = {kBlindVisualChannels, 1, 1};
    for (const data::AnnotationRecord& r : set.records) {
      video_ids_.push_back(r.video_id);
      types_.push_back(r.type);
      question_ids_.push_back(r.question_id);
    }
    return;
  }
  const features::CacheLayout& layout = cache_->layout();
  if (segments <= 0 || segments > layout.segments) {
    throw std::invalid_argument("--segments must be in 1.." + std::to_string(layout.segments) +
                                " (the cache's segments)");
  }
  for (int k = 0; k < segments; ++k)
    segments_.push_back(k * layout.segments / segments);
  bool has_audio = false, has_visual = false;
  for (const auto& m : layout.modalities) {
    if (m.name == "audio" && m.segment_shape.size() == 1) {
      has_audio = true;
      audio_dim_ = static_cast<std::int64_t>(m.segment_shape[0]);
    }
    if (m.name == "visual" && m.segment_shape.size() == 3) {
      has_visual = true;
      for (const auto d : m.segment_shape)
        visual_shape_.push_back(static_cast<std::int64_t>(d));
    }
  }
  if (!has_audio || !has_visual) {
    throw core::InputError({"", std::nullopt, ""},
                           "the feature cache needs audio [T, D] and visual [T, C, H, W] features");
  }
  for (const data::AnnotationRecord& r : set.records) {
    const auto video = cache_->find(r.video_id);
    if (!video)
      throw core::InputError({set.source, r.source_index, "video_id"},
                             "video " + r.video_id + " is not in the feature cache");
    if (cache_->status()[*video] != features::VideoStatus::Done) {
      throw core::InputError(
          {set.source, r.source_index, "video_id"},
          "video " + r.video_id + " has no features (extraction failed or pending)");
    }
    videos_.push_back(*video);
    video_ids_.push_back(r.video_id);
    types_.push_back(r.type);
    question_ids_.push_back(r.question_id);
  }
  for (std::size_t v = 0; v < cache_->status().size(); ++v) {
    if (cache_->status()[v] == features::VideoStatus::Done) done_videos_.push_back(v);
  }
}

const std::string& QaDataset::video_id(std::size_t i) const {
  return video_ids_[i];
}

QaBatch QaDataset::load(const std::vector<std::size_t>& indices,
                        bool negatives,
                        std::uint64_t seed,
                        bool zero_media) const {
  const auto b = static_cast<std::int64_t>(indices.size());
  const auto t = static_cast<std::int64_t>(segments_.size());
  QaBatch batch;
  batch.records = indices;
  std::vector<std::int64_t> visual_dims = {b, t};
  visual_dims.insert(visual_dims.end(), visual_shape_.begin(), visual_shape_.end());
  // Features from the cache fill every element; zeros only where nothing is read.
  const bool filled = cache_ && !zero_media;
  const auto make = [&](torch::IntArrayRef sizes) {
    return filled ? torch::empty(sizes) : torch::zeros(sizes);
  };
  batch.audio = make({b, t, audio_dim_});
  batch.visual = make(visual_dims);
  batch.question =
      torch::empty({b, static_cast<std::int64_t>(questions_.front().size())}, torch::kLong);
  batch.label = torch::empty({b}, torch::kLong);
  for (std::int64_t i = 0; i < b; ++i) {
    const std::size_t r = indices[static_cast<std::size_t>(i)];
    std::copy(questions_[r].begin(), questions_[r].end(),
              batch.question[i].data_ptr<std::int64_t>());
    batch.label[i] = labels_[r];
    if (zero_media || !cache_) continue;
    const auto audio = cache_->read("audio", videos_[r], segments_);
    const auto visual = cache_->read("visual", videos_[r], segments_);
    std::copy(audio.begin(), audio.end(), batch.audio[i].data_ptr<float>());
    std::copy(visual.begin(), visual.end(), batch.visual[i].data_ptr<float>());
  }
  if (!truth_.empty() && cache_) {
    const auto cells = visual_shape_[1] * visual_shape_[2];
    batch.attention_truth = torch::zeros({b, t, cells});
    for (std::int64_t i = 0; i < b; ++i) {
      const auto found = truth_.find(video_ids_[indices[static_cast<std::size_t>(i)]]);
      if (found == truth_.end()) continue;
      std::copy(found->second.cells.begin(), found->second.cells.end(),
                batch.attention_truth[i].data_ptr<float>());
    }
  }
  if (negatives && !cache_) batch.visual_negative = torch::zeros(visual_dims);
  if (negatives && cache_) {
    batch.visual_negative = make(visual_dims);
    std::mt19937_64 rng(seed);
    const int cache_segments = cache_->layout().segments;
    for (std::int64_t i = 0; i < b; ++i) {
      const std::size_t record = indices[static_cast<std::size_t>(i)];
      const std::size_t own = videos_[record];
      for (std::int64_t s = 0; s < t; ++s) {
        const auto [video, row] = negative_frame(record, segments_[static_cast<std::size_t>(s)],
                                                 own, cache_segments, rng);
        const auto frame = cache_->read("visual", video, {row});
        if (!zero_media)
          std::copy(frame.begin(), frame.end(), batch.visual_negative[i][s].data_ptr<float>());
      }
    }
  }
  return batch;
}

std::pair<std::size_t, int> QaDataset::negative_frame(std::size_t record,
                                                      int own_row,
                                                      std::size_t own_video,
                                                      int cache_segments,
                                                      std::mt19937_64& rng) const {
  const bool same_video =
      negatives_ == Negatives::SameVideo || (negatives_ == Negatives::Mixed && (rng() & 1) != 0);
  if (same_video) {
    const auto found = truth_.find(video_ids_[record]);
    if (found != truth_.end()) {
      const std::vector<std::uint64_t>& arrangement = found->second.arrangement;
      const std::uint64_t own = arrangement[static_cast<std::size_t>(own_row)];
      std::vector<int> rows;
      for (int r = 0; r < static_cast<int>(arrangement.size()); ++r) {
        if (arrangement[static_cast<std::size_t>(r)] != own) rows.push_back(r);
      }
      if (!rows.empty()) return {own_video, rows[rng() % rows.size()]};
    }
  }
  std::size_t other = own_video;
  for (int tries = 0; other == own_video && tries < 64 && done_videos_.size() > 1; ++tries)
    other = done_videos_[rng() % done_videos_.size()];
  return {other, static_cast<int>(rng() % static_cast<std::uint64_t>(cache_segments))};
}

QaDataset::Negatives QaDataset::parse_negatives(const std::string& name) {
  if (name == "other-video") return Negatives::OtherVideo;
  if (name == "same-video") return Negatives::SameVideo;
  if (name == "mixed") return Negatives::Mixed;
  throw std::invalid_argument("negatives must be other-video, same-video or mixed, not '" + name +
                              "'");
}

void QaDataset::attach_truth(const std::filesystem::path& truth_dir) {
  if (!cache_) throw std::invalid_argument("grounding truth needs a feature cache");
  const features::CacheLayout& layout = cache_->layout();
  const int rows = static_cast<int>(visual_shape_[1]);
  const int cols = static_cast<int>(visual_shape_[2]);
  std::vector<int> seconds;
  for (const int row : segments_)
    seconds.push_back(static_cast<int>(row / layout.fps));
  std::map<std::string, VideoTruth> out;
  for (const std::string& id : video_ids_) {
    if (out.count(id)) continue;
    const std::filesystem::path file = truth_dir / (id + ".json");
    if (!std::filesystem::exists(file)) {
      throw core::InputError({file.string(), std::nullopt, ""},
                             "no truth for video " + id +
                                 " (grounding truth exists only for `avqa generate`'s videos)");
    }
    VideoTruth v;
    const synthetic::SceneTruth truth = synthetic::load_truth(file);
    v.cells = sounding_cells(truth, seconds, rows, cols);
    for (int row = 0; row < layout.segments; ++row) {
      const auto second = static_cast<std::size_t>(row / layout.fps);
      std::uint64_t bits = 0;
      std::uint64_t bit = 1;
      for (const TruthBox& box : truth_boxes(truth, second, 1.0)) {
        if (box.sounding) bits |= bit;
        bit <<= 1;
      }
      v.arrangement.push_back(bits);
    }
    out.emplace(id, std::move(v));
  }
  truth_ = std::move(out);
}

}  // namespace avqa::net
