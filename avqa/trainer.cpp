#include "avqa/trainer.h"

#include <array>
#include <chrono>
#include <cmath>
#include <fstream>
#include <future>
#include <map>
#include <numeric>
#include <optional>
#include <random>

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "avqa/evaluation.h"
#include "avqa/run_folder.h"
#include "core/atomic_file.h"
#include "core/checkpoint/torch_checkpoint.h"
#include "core/input_error.h"
#include "core/progress_line.h"
#include "datasets/sentence_piece.h"

namespace avqa::net {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

double step_lr(const TrainOptions& o,
               int epoch) {  // epoch 1-based, as scheduler.step(epoch) in the original
  return o.learning_rate * std::pow(o.lr_gamma, (epoch - 1) / o.lr_step);
}

std::vector<std::size_t> shuffled(std::size_t n, std::uint64_t seed) {
  std::vector<std::size_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  std::mt19937_64 rng(seed);
  for (std::size_t i = n; i > 1; --i)
    std::swap(order[i - 1], order[rng() % i]);
  return order;
}

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
  const QaDataset train_data(train_set, vocab, cache, segments);
  const QaDataset val_data(val_set, vocab, cache, segments);

  StAvqaOptions widths;
  widths.heads = o.heads;
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
  StAvqaNet model(widths);
  torch::optim::Adam adam(model->parameters(), torch::optim::AdamOptions(o.learning_rate));
  TrainReport report;
  int start_epoch = 1;
  if (o.resume) {
    const json state = json::parse(data::read_text_file(state_file));
    const int done = state.at("epoch").get<int>();
    load_model_weights(model, o.out / ("epoch-" + std::to_string(done) + ".pt"));
    const fs::path optim = o.out / ("epoch-" + std::to_string(done) + ".optim");
    checkpoint::require_sound_archive(optim);  // before LibTorch's own archive reader sees it
    torch::load(adam, optim.string());
    report.best_val_accuracy = state.at("best_val_accuracy").get<double>();
    report.best_epoch = state.at("best_epoch").get<int>();
    const json& metrics = state.at("metrics");
    for (std::size_t i = 0; i < metrics.size(); ++i)
      report.epochs.push_back(epoch_metrics_from_json(metrics[i], state_file, i));
    start_epoch = done + 1;
  }

  for (int epoch = start_epoch; epoch <= o.epochs; ++epoch) {
    const auto start = std::chrono::steady_clock::now();
    // Everything random in an epoch derives from (seed, epoch): a resumed run repeats it exactly.
    torch::manual_seed(
        static_cast<std::int64_t>(o.seed * 1000003 + static_cast<std::uint64_t>(epoch)));
    const double lr = step_lr(o, epoch);
    for (auto& group : adam.param_groups())
      static_cast<torch::optim::AdamOptions&>(group.options()).lr(lr);
    const auto order =
        shuffled(train_data.size(), o.seed * 7919 + static_cast<std::uint64_t>(epoch));
    const std::size_t steps =
        (order.size() + static_cast<std::size_t>(o.batch) - 1) / static_cast<std::size_t>(o.batch);
    auto batch_at = [&](std::size_t step) {
      std::vector<std::size_t> indices(order.begin() + static_cast<std::ptrdiff_t>(step * o.batch),
                                       order.begin() + static_cast<std::ptrdiff_t>(std::min(
                                                           order.size(), (step + 1) * o.batch)));
      return train_data.load(indices, true,
                             o.seed * 31 + static_cast<std::uint64_t>(epoch) * 100003 + step,
                             o.question_only);
    };
    model->train();
    core::ProgressLine progress("epoch " + std::to_string(epoch) + "/" + std::to_string(o.epochs),
                                steps, "batches");
    double loss_sum = 0;
    std::size_t correct = 0, seen = 0;
    std::future<QaBatch> next = std::async(std::launch::async, batch_at, 0);  // prefetch
    for (std::size_t step = 0; step < steps; ++step) {
      QaBatch b = next.get();
      if (step + 1 < steps) next = std::async(std::launch::async, batch_at, step + 1);
      adam.zero_grad();
      const StAvqaOutput out = model->forward(b.audio, b.visual, b.question, b.visual_negative);
      const auto loss = training_loss(out, b.label, o.match_weight);
      const double value = loss.item<double>();
      if (!std::isfinite(value)) {
        throw std::runtime_error("the loss became " + std::to_string(value) + " at epoch " +
                                 std::to_string(epoch) + ", batch " + std::to_string(step + 1) +
                                 "; stopped, the last checkpoint in " + o.out.string() +
                                 " is intact");
      }
      loss.backward();
      adam.step();
      loss_sum += value * static_cast<double>(b.records.size());
      correct +=
          static_cast<std::size_t>((out.logits.argmax(1) == b.label).sum().item<std::int64_t>());
      seen += b.records.size();
      if (o.progress)
        progress.update(
            step + 1, "loss " + std::to_string(loss_sum / static_cast<double>(seen)).substr(0, 6));
    }
    if (o.progress) progress.finish();
    const Evaluation val = evaluate(model, val_data, o.batch, o.question_only);
    EpochMetrics m{epoch,
                   lr,
                   loss_sum / static_cast<double>(seen),
                   static_cast<double>(correct) / static_cast<double>(seen),
                   val.accuracy.accuracy().value_or(0.0),
                   std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count()};
    report.epochs.push_back(m);
    // Checkpoint: files of this epoch first, then state.json naming it, then old files go.
    const std::string tag = "epoch-" + std::to_string(epoch);
    save_model_weights(model, o.out / (tag + ".pt"));
    const fs::path optim_temp = o.out / (tag + ".optim.tmp");
    torch::save(adam, optim_temp.string());
    fs::rename(optim_temp, o.out / (tag + ".optim"));
    if (m.val_accuracy >=
        report.best_val_accuracy) {  // ties move to the later epoch, as the original
      report.best_val_accuracy = m.val_accuracy;
      report.best_epoch = epoch;
      save_model_weights(model, o.out / "best.pt");
    }
    json metrics = json::array();
    std::string lines;
    for (const auto& e : report.epochs) {
      const json line = to_json(e);
      metrics.push_back(line);
      lines += line.dump() + "\n";
    }
    core::write_file_atomically(o.out / "metrics.jsonl", lines);
    core::write_file_atomically(state_file, json{{"epoch", epoch},
                                                 {"best_val_accuracy", report.best_val_accuracy},
                                                 {"best_epoch", report.best_epoch},
                                                 {"metrics", metrics}}
                                                    .dump(2) +
                                                "\n");
    if (epoch > 1) {
      std::error_code ec;
      fs::remove(o.out / ("epoch-" + std::to_string(epoch - 1) + ".pt"), ec);
      fs::remove(o.out / ("epoch-" + std::to_string(epoch - 1) + ".optim"), ec);
    }
    if (o.progress) {
      std::fprintf(
          stderr, "epoch %d: lr %.0e, train loss %.4f, train acc %.2f%%, val acc %.2f%% (%.1f s)\n",
          epoch, lr, m.train_loss, 100 * m.train_accuracy, 100 * m.val_accuracy, m.seconds);
    }
  }
  report.best_model = o.out / "best.pt";
  return report;
}

}  // namespace avqa::net
