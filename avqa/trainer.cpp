#include "avqa/trainer.h"

#include <array>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <future>
#include <map>
#include <numeric>
#include <optional>
#include <random>

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "avqa/evaluation.h"
#include "avqa/grounding_diagnostics.h"
#include "avqa/run_folder.h"
#include "avqa/st_avqa_task.h"
#include "core/atomic_file.h"
#include "core/checkpoint/torch_checkpoint.h"
#include "core/input_error.h"
#include "core/progress_line.h"
#include "core/train/balance.h"
#include "datasets/sentence_piece.h"

namespace avqa::net {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

data::AnnotationSet load_split(const fs::path& file, data::DuplicatePolicy policy) {
  return data::load_annotations(file, {policy});
}

}  // namespace

torch::Tensor training_loss(const StAvqaOutput& out,
                            const torch::Tensor& labels,
                            double match_weight) {
  const auto n = out.match_positive.size(0);
  const auto match_labels =
      torch::cat({torch::ones({n}, torch::kLong), torch::zeros({n}, torch::kLong)});
  return torch::cross_entropy_loss(out.logits, labels) +
         match_weight * torch::cross_entropy_loss(
                            torch::cat({out.match_positive, out.match_negative}), match_labels);
}

TrainReport train(const TrainOptions& o) {
  validate_train_options(o);
  if (o.robust == "crmt-mix") {
    throw std::invalid_argument(
        "--robust crmt-mix mixes whole samples, and ST-AVQA's questions are words that do not "
        "mix: use crmt or crmt-at");
  }
  // Only generated data has truth: both options read it, and neither is the default. Checked
  // before anything is written.
  const bool needs_truth = (o.grounding_supervision == "truth" || o.negatives != "other-video") &&
                           !o.cache.empty() && !o.question_only;
  const fs::path truth_dir = o.truth.empty() ? truth_folder_beside(o.train) : o.truth;
  if (needs_truth && !fs::is_directory(truth_dir)) {
    throw core::InputError({truth_dir.string(), std::nullopt, ""},
                           "no truth folder: --grounding-supervision truth and --negatives "
                           "same-video or mixed need a generated dataset's truth/ (--truth DIR)");
  }
  const data::AnnotationSet train_set = load_split(o.train, o.duplicates);
  const data::AnnotationSet val_set = load_split(o.val, o.duplicates);
  std::shared_ptr<const features::FeatureCacheReader> cache;
  // A question-only run sees zeros whatever the cache holds, and zero maps of any size give the
  // same uniform attention and zero features: it runs on 1x1 zeros instead (several times faster).
  if (!o.cache.empty() && !o.question_only)
    cache = std::make_shared<const features::FeatureCacheReader>(o.cache);
  fs::create_directories(o.out);
  const fs::path state_file = o.out / "state.json";
  // Before anything is written: a finished or interrupted run in `out` stays as it is.
  if (!o.resume && fs::exists(state_file)) {
    throw core::InputError({o.out.string(), std::nullopt, ""},
                           "holds a run already; pass --resume or choose another folder");
  }
  if (o.resume && !fs::exists(state_file))
    throw core::InputError({state_file.string(), std::nullopt, ""}, "no run to resume here");
  core::write_file_atomically(o.out / "run.json", train_config_json(o));

  // Vocabularies: words of the training and validation questions (first appearance, <pad> = 0)
  // and the 42 MUSIC-AVQA answers in the original order; saved with the run, reused on resume.
  data::Vocabularies vocab;
  const fs::path vocab_file = o.out / "vocab.json";
  if (o.resume && fs::exists(vocab_file)) {
    vocab = data::load_vocabularies(vocab_file);
  } else if (!o.vocab.empty()) {
    vocab = data::load_vocabularies(o.vocab);
    data::save_vocabularies(vocab, vocab_file);
  } else {
    vocab.words = data::WordVocabulary::build({train_set, val_set});
    vocab.answers = data::AnswerVocabulary(data::music_avqa_answers());
    vocab.built_from = {o.train.string(), o.val.string()};
    if (!o.tokenizer.empty()) {
      // The run keeps its own copy, so it answers questions wherever it is moved.
      const data::SentencePieceModel pieces(o.tokenizer);
      const fs::path copy = o.out / "tokenizer.model";
      core::write_file_atomically(copy, data::read_text_file(o.tokenizer));
      vocab.pieces = data::QuestionPieces{copy, pieces.size(), o.tokenizer_max_length};
    }
    data::save_vocabularies(vocab, vocab_file);
  }
  // With zero inputs every segment is the same, and one segment answers as ten do (the temporal
  // attention over identical segments is uniform, their mean is any one of them) at a third of
  // the training time; only the dropout on the attention weights draws its noise differently.
  const int segments = o.question_only ? 1 : o.segments;
  QaDataset train_data(train_set, vocab, cache, segments);
  const QaDataset val_data(val_set, vocab, cache, segments);
  GroundingLossWeights losses;
  losses.match = o.match_weight;
  losses.localization = o.localization_weight;
  losses.batch_localization = o.batch_localization_weight;
  const bool supervised = o.grounding_supervision == "truth";
  if (supervised) losses.supervision = o.grounding_supervision_weight;
  if (needs_truth) {
    train_data.attach_truth(truth_dir);
    train_data.set_negatives(QaDataset::parse_negatives(o.negatives));
    if (supervised) {
      std::fprintf(stderr,
                   "train: DIAGNOSTIC run: the spatial attention is supervised by the generator's "
                   "truth boxes (%s); an upper bound of what the features allow, not a method\n",
                   truth_dir.string().c_str());
    }
  }

  StAvqaOptions widths;
  widths.heads = o.heads;
  widths.grounding_temperature = o.grounding_temperature;
  widths.centre_patches = o.centre_patches;
  widths.position_codes = o.position_codes;
  widths.position_code_scale = o.position_code_scale;
  widths.question_grounding = o.question_grounding;
  widths.crmt_head = o.certified();
  widths.crmt_init = o.crmt_init;
  widths.vocab_size = data::question_vocabulary_size(vocab);
  widths.answers = static_cast<std::int64_t>(vocab.answers.size());
  const QaBatch probe = train_data.load({0}, false, 0);
  widths.audio_dim = probe.audio.size(2);
  widths.visual_channels = probe.visual.size(2);
  // The spatial grounding multiplies audio embeddings with visual maps: one width for both.
  widths.hidden = widths.visual_channels;
  if (widths.hidden % widths.heads != 0) {
    throw std::invalid_argument("--heads " + std::to_string(widths.heads) +
                                " must divide the network's width " +
                                std::to_string(widths.hidden));
  }
  RunConfig run_config;
  run_config.widths = widths;
  run_config.segments = segments;
  run_config.question_only = o.question_only;
  run_config.truth_supervised = supervised;
  if (!o.cache.empty()) {
    run_config.cache = o.cache;
    // What answering a new video must repeat, so the run answers without its training cache.
    run_config.features = FeatureRecipe::of_cache(
        cache ? cache->layout() : features::FeatureCacheReader(o.cache).layout());
  }
  save_run_config(o.out, run_config);
  if (!o.keep_weights.empty()) {
    if (!run_config.features)
      throw std::invalid_argument("--keep-weights needs the feature cache the weights made");
    keep_backbone_weights(o.out, *run_config.features, o.keep_weights);
  }

  torch::manual_seed(static_cast<std::int64_t>(o.seed));
  StAvqaModel model(StAvqaNet(widths), losses);
  const train::TrainerOptions t = trainer_options(o);
  const QaTrainingData train_batches(train_data, o.question_only);
  const QaTrainingData val_batches(val_data, o.question_only);
  const train::FitReport fitted =
      train::fit(model, train_batches, val_batches, t, training_hooks(o));
  if (o.certified()) certify(model, train_batches, o, t);
  TrainReport report;
  report.epochs = fitted.epochs;
  report.best_val_accuracy = fitted.best_val_accuracy;
  report.best_epoch = fitted.best_epoch;
  report.best_model = o.out / "best.pt";
  return report;
}

}  // namespace avqa::net
