#pragma once

#include <cstddef>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

// What a training run records of each epoch: metrics.jsonl (a line per epoch) and state.json's
// "metrics", written by the trainer and read by resume, the studio's Runs tab and scripts alike.
// Torch-free, so widget headers can hold it.
namespace avqa::train {

/// How one modality fares at the end of an epoch, on the validation split.
struct ModalityDiagnostics {
  std::string modality;          ///< "audio", "visual", ...
  double unimodal_accuracy = 0;  ///< 0..1: the model's answer from this modality alone
  double probe_accuracy = 0;     ///< 0..1: a linear probe on its frozen encoder features
  double contribution = 0;       ///< mean Shapley value of the modality (correct = 1)
};

struct EpochMetrics {
  int epoch = 0;  ///< 1-based
  double learning_rate = 0;
  double train_loss = 0;
  double train_accuracy = 0;  ///< 0..1
  double val_accuracy = 0;    ///< 0..1
  double seconds = 0;
  /// Per modality, in the model's order; empty when the run measured none.
  std::vector<ModalityDiagnostics> modalities;
  /// Mean over training batches of S_1 / S_2 (the OGM score ratio: first modality over second).
  std::optional<double> score_ratio;
};

/// One epoch as a JSON object: {"epoch", "lr", "train_loss", "train_accuracy", "val_accuracy",
/// "seconds"} and, when measured, "score_ratio" and "modalities": {name: {"unimodal_accuracy",
/// "probe_accuracy", "contribution"}} (in order as "modality_order").
nlohmann::json to_json(const EpochMetrics& metrics);
/// The same back; throws core::InputError naming `file`, `record` and the field that is missing
/// or not a number.
EpochMetrics epoch_metrics_from_json(const nlohmann::json& object,
                                     const std::filesystem::path& file,
                                     std::optional<std::size_t> record);

/// Reads a run's metrics.jsonl (a missing file is no epochs yet: a run that has not finished
/// one). Throws core::InputError naming the file, the record (the 0-based line) and the field
/// of a bad line.
std::vector<EpochMetrics> read_metrics(const std::filesystem::path& file);

/// The one-line summary the progress output prints after an epoch, diagnostics included.
std::string describe(const EpochMetrics& metrics);

}  // namespace avqa::train
