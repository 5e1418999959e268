#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include <ATen/core/Tensor.h>

#include "datasets/media/media_reader.h"

namespace avqa::data {
struct Vocabularies;
}

namespace avqa::net {

struct RunConfig;

/// An attack on the decoded video (`avqa ask --attack`): untargeted l2 PGD on one modality's
/// backbone input (the log-mel examples, or the normalised frames; not clamped to valid pixels),
/// through the backbones, raising the loss of the clean answer. The radius is a share of that
/// input's l2 norm, as robust-eval's.
struct VideoAttack {
  std::string modality = "audio";  ///< "audio" or "visual"
  double radius = 0.05;
  int steps = 10;  ///< of radius / 3 each
};

/// `avqa ask`: a question about a new video, answered by a trained run.
struct AskOptions {
  std::filesystem::path run;  ///< folder written by `avqa train`
  std::filesystem::path video;
  std::string question;             ///< with placeholders (then `values`) or written out
  std::vector<std::string> values;  ///< placeholder values, in order
  /// The weights the run's features were extracted with; default: the run's kept copies
  /// (`avqa train --keep-weights`).
  std::filesystem::path visual_weights;
  std::filesystem::path audio_weights;
  std::optional<VideoAttack> attack;  ///< answer under this attack on the decoded video
};

/// How much each branch gives one answer: the probability of the chosen answer from both branches,
/// from each alone (the other's fused features zeroed) and from neither (the question alone),
/// and each branch's Shapley value of that probability (audio + visual = both - neither).
struct ModalityContribution {
  double both = 0;
  double audio_only = 0;
  double visual_only = 0;
  double neither = 0;
  double audio = 0;
  double visual = 0;
};

struct AskResult {
  std::string answer;
  std::vector<std::pair<std::string, float>> top5;  ///< answer, probability
  std::vector<std::string> words;                   ///< the question as the model read it
  std::vector<std::string>
      pieces;                    ///< its SentencePiece pieces, for a run trained with a tokenizer
  at::Tensor spatial_attention;  ///< [T, H*W] per model segment
  at::Tensor temporal_visual;    ///< [T]
  at::Tensor temporal_audio;     ///< [T]
  int grid = 0;                  ///< H = W of the visual maps
  std::vector<int> segments;     ///< which of the clip's sampled segments the model saw
  std::vector<double> segment_seconds;  ///< the second of the video each of those shows
  media::SampledClip clip;              ///< the frames and audio it saw (empty: question-only)
  std::vector<std::string> notes;       ///< what the user should know (unchecked weights)
  ModalityContribution contribution;
};

/// What changes in a video before the model sees it: the studio's modality controls. Each edit
/// changes the clip (silence, black frames, white noise) and runs that modality's backbone
/// again, so the model sees what a muted or blank video gives, not zeros it never trained on.
struct ModalityEdit {
  bool mute_audio = false;
  bool blank_video = false;
  std::optional<double> noise_snr_db;  ///< white noise added to the audio at this SNR (dB)
  std::uint64_t noise_seed = 0;
  bool audio_changed() const { return mute_audio || noise_snr_db.has_value(); }
  bool visual_changed() const { return blank_video; }
};

/// The clip as `edit` changes it: black frames, silence, or white noise at the SNR (relative to
/// the clip's own mean power; the same seed gives the same noise). What the model is given, and
/// what the studio draws and plays for an edited video.
media::SampledClip edited_clip(media::SampledClip clip, const ModalityEdit& edit);

/// A video made ready for questions: its clip and the run's inputs for it.
struct PreparedVideo {
  std::filesystem::path path;
  media::SampledClip clip;              ///< empty for a question-only run
  at::Tensor audio;                     ///< [1, T, audio_dim] model inputs
  at::Tensor visual;                    ///< [1, T, C, H, W]
  int grid = 0;                         ///< H = W
  std::vector<int> segments;            ///< the clip's sampled segments the model sees
  std::vector<double> segment_seconds;  ///< the second of the video each shows
  ModalityEdit edit;                    ///< what was changed before extraction
};

/// A question as a run reads it.
struct EncodedQuestion {
  std::vector<std::string> words;   ///< placeholders filled, the last character dropped
  std::vector<std::string> pieces;  ///< SentencePiece pieces, for a run trained with a tokenizer
  std::vector<std::int64_t> ids;    ///< [max_length] model input
};

/// Preparation reports its progress (0..1) and stage; returning false cancels it (then
/// `prepare` throws PreparationCancelled).
using PrepareProgress = std::function<bool(double fraction, const std::string& stage)>;
struct PreparationCancelled : std::runtime_error {
  PreparationCancelled() : std::runtime_error("cancelled") {}
};

/// A run opened once to answer many questions about many videos (the studio; `ask` is one use).
/// Thread-compatible: one thread at a time, or one answerer per thread.
class VideoAnswerer {
 public:
  struct Options {
    std::filesystem::path run;
    std::filesystem::path visual_weights;  ///< default: the run's kept copies
    std::filesystem::path audio_weights;
  };
  /// Reads the run (config, vocabulary, weights) and builds its backbones. Throws
  /// core::InputError for a broken run or weights that are not the ones its features came from.
  explicit VideoAnswerer(const Options& options);
  ~VideoAnswerer();
  VideoAnswerer(const VideoAnswerer&) = delete;
  VideoAnswerer& operator=(const VideoAnswerer&) = delete;

  const RunConfig& config() const;
  const data::Vocabularies& vocabulary() const;
  /// What the user should know about the run's weights (unchecked ones).
  const std::vector<std::string>& notes() const;

  /// Throws core::InputError (field "question") for words the run does not know.
  EncodedQuestion encode(const std::string& question,
                         const std::vector<std::string>& values = {}) const;
  /// Samples the video and extracts its features as the run's recipe says.
  PreparedVideo prepare(const std::filesystem::path& video,
                        const ModalityEdit& edit = {},
                        const PrepareProgress& progress = {}) const;
  /// `video` with another edit: only the modalities whose edit differs are extracted again.
  PreparedVideo edited(const PreparedVideo& video, const ModalityEdit& edit) const;
  /// The answer, its top 5 and where and when the model looked (fast: no extraction).
  AskResult answer(const PreparedVideo& video, const EncodedQuestion& question) const;
  /// The answer after `attack` moved the decoded input the backbones read (video.clip as its edit
  /// leaves it); the notes say what was attacked, how far and the answer before. Throws
  /// core::InputError for a question-only run, std::invalid_argument for an unknown modality.
  AskResult answer_under_attack(const PreparedVideo& video,
                                const EncodedQuestion& question,
                                const VideoAttack& attack) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

/// Extracts the video's features as the run's recorded recipe says (config.json "features":
/// sampling, backbones, weights by SHA-256; the training cache is not needed), encodes the
/// question with the run's vocabulary (unknown words are an error listing them) and answers.
/// Weights given must be the ones recorded (a mismatch is an error naming both); without them
/// the run's kept copies are used. A question-only run answers from the question alone.
AskResult ask(const AskOptions& options);

/// Writes segment-<i>.png (the attention map over the frame of segment i, brightest where the
/// model looked) and temporal.png (visual and audio attention per segment) into `folder`.
/// Returns the files written.
std::vector<std::filesystem::path> write_overlays(const AskResult& result,
                                                  const std::filesystem::path& folder);

}  // namespace avqa::net
