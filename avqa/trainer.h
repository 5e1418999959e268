#pragma once

#include <cstdint>
#include <filesystem>
#include <set>
#include <string>
#include <vector>

#include "avqa/qa_dataset.h"
#include "avqa/st_avqa_net.h"
#include "datasets/type_accuracy.h"

namespace avqa::net {

/// `avqa train`: the original recipe by default (st-avqa.md section 6).
struct TrainOptions {
  std::filesystem::path train;  ///< training annotations
  std::filesystem::path val;    ///< validation annotations (best model by val accuracy)
  std::filesystem::path
      cache;  ///< HDF5 feature cache holding both splits' videos; may be empty with question_only
  std::filesystem::path
      vocab;  ///< vocabulary file (`avqa data vocab`); empty: train + val words, the 42 answers
  std::filesystem::path
      tokenizer;  ///< SentencePiece model (`avqa data spm-train`): questions as pieces, not words
  std::size_t tokenizer_max_length = 32;  ///< pieces per question with `tokenizer`
  data::DuplicatePolicy duplicates =
      data::DuplicatePolicy::Error;  ///< for annotation files that repeat question ids
  std::filesystem::path out;         ///< run folder
  int epochs = 30;
  int batch = 64;
  double learning_rate = 1e-4;  ///< Adam
  int lr_step = 8;              ///< StepLR step (epochs)
  double lr_gamma = 0.1;
  double match_weight = 0.5;  ///< weight of the audio-visual match loss
  int segments = 10;          ///< segments the model sees
  std::int64_t heads = 4;     ///< temporal attention heads; must divide the width (512)
  std::uint64_t seed = 1;
  bool question_only = false;  ///< zero audio and visual: the question-only baseline
  bool resume = false;         ///< continue the run in `out` exactly where it stopped
  bool progress = true;
};

struct EpochMetrics {
  int epoch = 0;  ///< 1-based
  double learning_rate = 0;
  double train_loss = 0;
  double train_accuracy = 0;
  double val_accuracy = 0;
  double seconds = 0;
};

struct TrainReport {
  std::vector<EpochMetrics> epochs;  ///< all epochs of the run, resumed ones included
  double best_val_accuracy = 0;
  int best_epoch = 0;
  std::filesystem::path best_model;
};

/// A run configuration file (`avqa train --config run.json`): one JSON object whose keys are the
/// train flags' names with '_' for '-': train, val, cache, vocab, tokenizer, tokenizer_max_length,
/// duplicates, out, epochs, batch, lr, lr_step, lr_gamma, match_weight, segments, heads,
/// seed, question_only, threads. Relative paths are relative to the file's folder.
struct TrainConfig {
  TrainOptions options;        ///< defaults where the file is silent
  int threads = 0;             ///< torch threads; 0 = not set
  std::set<std::string> keys;  ///< the keys the file sets, so command-line flags can override them
};

/// Throws core::InputError naming the file and the key for an unknown key or a value of the
/// wrong type or range.
TrainConfig load_train_config(const std::filesystem::path& file);

/// The effective configuration in the same format, as `train` keeps it in <out>/run.json.
std::string train_config_json(const TrainOptions& options, int threads);

/// Trains, keeping in `out`: run.json (the options), vocab.json, config.json, epoch-<k>.pt (+
/// .optim) of the last epoch, best.pt, metrics.jsonl and state.json (written last, atomically, so a
/// run killed at any moment resumes from its last complete epoch with the same data order, dropout
/// and negatives as if it had not stopped). A NaN or infinite loss stops with an error; the last
/// checkpoint stays as it was.
TrainReport train(const TrainOptions& options);

/// The trained network of a run folder: widths from config.json, weights from best.pt.
StAvqaNet load_run_model(const std::filesystem::path& run);

/// Predictions of a trained model.
struct Evaluation {
  data::TypeAccuracy accuracy;
  std::vector<std::int64_t> predicted;                            ///< answer index per question
  std::vector<std::vector<std::pair<std::int64_t, float>>> top5;  ///< answer index, probability
  std::vector<at::Tensor> spatial_attention;                      ///< per question [T, H*W]
  std::vector<at::Tensor> temporal_visual;                        ///< per question [T]
};

/// How well the model looked where and when the sound was, against a generated dataset's truth.
struct GroundingScores {
  double pointing_accuracy =
      0;  ///< share of segments whose attention peak lies in the box of an instrument sounding then
  std::size_t pointing_segments =
      0;  ///< segments scored (those with a visible instrument sounding)
  double temporal_mass =
      0;  ///< mean share of visual temporal attention on seconds where a visible instrument sounds
  std::size_t temporal_questions = 0;
  double pointing_chance =
      0;  ///< the same for a uniformly random peak: the boxes' share of the frame
  double temporal_chance = 0;  ///< the same for uniform attention: the share of sounding seconds
};

/// Scores `evaluation` of `data` against <truth>/<video_id>.json files (written by `avqa
/// generate`). `segment_seconds[k]` is the second model segment k shows; `frame_size` the frame
/// the attention grid covers.
GroundingScores grounding_scores(const Evaluation& evaluation,
                                 const QaDataset& data,
                                 const std::filesystem::path& truth,
                                 const std::vector<int>& segment_seconds,
                                 int frame_size);

Evaluation evaluate(StAvqaNet& model, const QaDataset& data, int batch, bool question_only = false);

}  // namespace avqa::net
