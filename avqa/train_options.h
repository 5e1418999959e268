#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <set>
#include <string>
#include <type_traits>
#include <variant>
#include <vector>

#include "core/train/balance.h"
#include "core/train/robust_training.h"
#include "core/train/trainer.h"
#include "datasets/annotations.h"

namespace avqa::net {

/// `avqa train`: the original recipe by default (st-avqa.md section 6). The balance method's
/// settings are train options too (the base), so flags and run.json keys come from one table.
struct TrainOptions : train::BalanceOptions, train::RobustTrainingOptions {
  /// "st-avqa" (question answering, annotation files) or "classify" (audio-visual classification:
  /// train/val are label files, avclass/)
  std::string task = "st-avqa";
  std::string fusion = "concat";        ///< classify: sum, concat, film, gated
  std::int64_t classifier_width = 256;  ///< classify: each encoder's width
  /// classify: how a segment's visual map [C, H, W] becomes one vector: mean, max, or mean-max
  /// (both, 2C wide: a small instrument is diluted by the mean over the cells)
  std::string visual_pooling = "mean-max";
  std::string id_column;        ///< classify: label files' id column (name or index)
  std::string label_column;     ///< classify: label files' label column
  std::filesystem::path train;  ///< training annotations
  std::filesystem::path val;    ///< validation annotations (best model by val accuracy)
  /// HDF5 feature cache holding both splits' videos; may be empty with question_only
  std::filesystem::path cache;
  /// vocabulary file (`avqa data vocab`); empty: train + val words, the 42 answers
  std::filesystem::path vocab;
  /// SentencePiece model (`avqa data spm-train`): questions as pieces, not words
  std::filesystem::path tokenizer;
  std::size_t tokenizer_max_length = 32;  ///< pieces per question with `tokenizer`
  /// for annotation files that repeat question ids
  data::DuplicatePolicy duplicates = data::DuplicatePolicy::Error;
  std::filesystem::path out;  ///< run folder
  /// backbone weight files the cache's features were extracted with, copied into the run
  std::vector<std::filesystem::path> keep_weights;
  int epochs = 30;
  int batch = 64;
  train::OptimizerKind optimizer = train::OptimizerKind::Adam;
  double learning_rate = 1e-4;
  double momentum = 0.9;  ///< SGD
  double weight_decay = 0;
  int lr_step = 8;  ///< StepLR step (epochs)
  double lr_gamma = 0.1;
  double match_weight = 0.5;  ///< weight of the audio-visual match loss
  /// spatial attention = softmax(cosine / grounding_temperature) (1: the original)
  double grounding_temperature = 1.0;
  /// compare the audio with patches minus their frame's mean (StAvqaOptions::centre_patches)
  bool centre_patches = false;
  /// codes of where each patch lies and when each segment comes (StAvqaOptions::position_codes)
  bool position_codes = false;
  double position_code_scale = 1.0;
  /// a second spatial attention steered by the question (StAvqaOptions::question_grounding)
  bool question_grounding = false;
  /// weight of the localization ranking (grounding_objectives.h; 0: the original)
  double localization_weight = 0;
  /// weight of the localization ranking against the batch's other videos (0: the original)
  double batch_localization_weight = 0;
  /// "other-video" (the original), "same-video" or "mixed": where negative frames come from
  std::string negatives = "other-video";
  /// "none" or "truth": a diagnostic upper bound on generated data, the spatial attention pulled
  /// towards the truth boxes of the sounding instruments; never a method
  std::string grounding_supervision = "none";
  double grounding_supervision_weight = 1.0;
  /// a generated dataset's truth/ folder (same-video negatives, truth supervision); default: the
  /// truth/ beside the training annotations' folder
  std::filesystem::path truth;
  int segments = 10;       ///< segments the model sees
  std::int64_t heads = 4;  ///< temporal attention heads; must divide the width (512)
  std::uint64_t seed = 1;
  bool question_only = false;  ///< zero audio and visual: the question-only baseline
  bool resume = false;         ///< continue the run in `out` exactly where it stopped
  /// per-modality accuracy, probes and contributions in metrics.jsonl each epoch
  bool diagnostics = true;
  bool progress = true;
  int threads = 0;  ///< torch threads recorded in a config; 0 = not set
};

/// One option of `avqa train`, declared once: the command-line flag (`--<name>`), the key of
/// a run configuration file (`name` with '_' for '-') and the field of TrainOptions come from
/// this table, so flags, files and the merge of the two cannot drift apart.
struct TrainOptionSpec {
  using Field = std::variant<std::filesystem::path TrainOptions::*,
                             std::string TrainOptions::*,
                             std::vector<std::filesystem::path> TrainOptions::*,
                             int TrainOptions::*,
                             std::int64_t TrainOptions::*,
                             std::uint64_t TrainOptions::*,
                             double TrainOptions::*,
                             bool TrainOptions::*,
                             data::DuplicatePolicy TrainOptions::*,
                             train::OptimizerKind TrainOptions::*,
                             train::BalanceMethod TrainOptions::*>;
  enum class Range { Any, Positive, NonNegative };
  std::string name;  ///< flag name without "--", e.g. "lr-step"
  std::string help;
  Field field;
  Range range = Range::Any;
  bool in_config = true;        ///< false: command line only (resume)
  bool on_command_line = true;  ///< false: config only (threads: avqa's own --threads sets it)

  std::string key() const;  ///< the configuration file's key, e.g. "lr_step"
};

/// The names an option of a named-choice type accepts (DuplicatePolicy, OptimizerKind,
/// BalanceMethod), its parser and its name for a value.
template <typename T>
struct Choice {
  static std::vector<std::string> names();
  static T parse(const std::string& name);  ///< throws std::invalid_argument
  static std::string name(T value);
};
template <typename T>
inline constexpr bool is_choice_v =
    std::is_same_v<T, data::DuplicatePolicy> || std::is_same_v<T, train::OptimizerKind> ||
    std::is_same_v<T, train::BalanceMethod>;

/// Every option, in the order `avqa train --help` and run.json list them.
const std::vector<TrainOptionSpec>& train_option_specs();

/// A run configuration file (`avqa train --config run.json`): one JSON object of the table's
/// keys. Relative paths are relative to the file's folder.
struct TrainConfig {
  TrainOptions options;        ///< defaults where the file is silent
  std::set<std::string> keys;  ///< the keys the file sets
};

/// Throws core::InputError naming the file and the key for an unknown key or a value of the
/// wrong type or range.
TrainConfig load_train_config(const std::filesystem::path& file);

/// The effective configuration in the same format, as `train` keeps it in <out>/run.json.
std::string train_config_json(const TrainOptions& options);

/// The options of a run: `file`'s values, each replaced by the one in `flags` when `given`
/// says the flag was on the command line (called with the option's name, without "--").
/// Options that are not in a config file (resume) always come from `flags`.
TrainOptions merge_train_options(const TrainConfig& file,
                                 const TrainOptions& flags,
                                 const std::function<bool(const std::string& name)>& given);

/// The training core's settings from a run's options (both tasks train through train::fit).
train::TrainerOptions trainer_options(const TrainOptions& options);

/// Checks what every run needs (train, val, out; positive counts); throws
/// std::invalid_argument naming the option.
void validate_train_options(const TrainOptions& options);

/// The hooks the options ask for: robust training first (it changes the batch), then the balance
/// method (which acts on that batch).
std::vector<std::shared_ptr<train::Hook>> training_hooks(const TrainOptions& options);

/// CRMT's phase 2 on a finished run (train::certify_run), its progress on stderr when the options
/// say so.
void certify(train::ModalityModel& model,
             const train::TrainingData& train_data,
             const TrainOptions& options,
             const train::TrainerOptions& trainer);

}  // namespace avqa::net
