#pragma once

#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include <ATen/core/Tensor.h>

#include "datasets/media/media_reader.h"

namespace avqa::net {

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
