#pragma once

#include <cstddef>
#include <filesystem>
#include <optional>
#include <vector>

#include <nlohmann/json_fwd.hpp>

// What a training run records of each epoch: metrics.jsonl (a line per epoch) and state.json's
// "metrics", written by train() and read by resume, the studio's Runs tab and scripts alike.
// Torch-free, so widget headers can hold it.
namespace avqa::net {

struct EpochMetrics {
  int epoch = 0;  ///< 1-based
  double learning_rate = 0;
  double train_loss = 0;
  double train_accuracy = 0;  ///< 0..1
  double val_accuracy = 0;    ///< 0..1
  double seconds = 0;
};

/// One epoch as a JSON object: {"epoch", "lr", "train_loss", "train_accuracy", "val_accuracy",
/// "seconds"}.
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

}  // namespace avqa::net
