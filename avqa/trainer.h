#pragma once

#include <cstdint>
#include <filesystem>
#include <set>
#include <string>
#include <vector>

#include "avqa/qa_dataset.h"
#include "avqa/st_avqa_net.h"
#include "avqa/train_options.h"
#include "core/train/epoch_metrics.h"

namespace avqa::net {

using train::EpochMetrics;

struct TrainReport {
  std::vector<EpochMetrics> epochs;  ///< all epochs of the run, resumed ones included
  double best_val_accuracy = 0;
  int best_epoch = 0;
  std::filesystem::path best_model;
};

/// The training loss of main_avst.py's train(): cross-entropy of the answers plus
/// `match_weight` x cross-entropy of the audio-visual match (own frames labelled 1, other
/// videos' frames 0). `out` must come from a forward with negatives. Returns a scalar.
torch::Tensor training_loss(const StAvqaOutput& out,
                            const torch::Tensor& labels,
                            double match_weight);

/// Trains, keeping in `out`: run.json (the options), vocab.json, config.json, epoch-<k>.pt (+
/// .optim) of the last epoch, best.pt, metrics.jsonl and state.json (written last, atomically, so a
/// run killed at any moment resumes from its last complete epoch with the same data order, dropout
/// and negatives as if it had not stopped). A NaN or infinite loss stops with an error; the last
/// checkpoint stays as it was.
TrainReport train(const TrainOptions& options);

}  // namespace avqa::net
