#include "avqa/trainer.h"

#include <array>
#include <chrono>
#include <cmath>
#include <fstream>
#include <future>
#include <map>
#include <numeric>
#include <random>

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "avqa/torch_checkpoint.h"
#include "core/atomic_file.h"
#include "core/input_error.h"
#include "core/progress_line.h"
#include "datasets/sentence_piece.h"

namespace avqa::net {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

NamedTensors state_of(StAvqaNet& model) {
  NamedTensors out;
  for (const auto& p : model->named_parameters())
    out.emplace_back(p.key(), p.value());
  return out;
}

void load_state(StAvqaNet& model, const fs::path& path) {
  std::map<std::string, torch::Tensor> tensors;
  for (auto& [k, v] : read_torch_state_dict(path))
    tensors[k] = v;
  torch::NoGradGuard no_grad;
  for (auto& p : model->named_parameters()) {
    const auto it = tensors.find(p.key());
    if (it == tensors.end() || it->second.sizes() != p.value().sizes()) {
      throw core::InputError({path.string(), std::nullopt, p.key()}, "missing or of another shape");
    }
    p.value().copy_(it->second);
  }
}

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

TrainConfig load_train_config(const fs::path& file) {
  json document;
  try {
    document = json::parse(data::read_text_file(file));
  } catch (const json::parse_error& e) {
    throw core::InputError({file.string(), std::nullopt, ""}, std::string("not JSON: ") + e.what());
  }
  if (!document.is_object())
    throw core::InputError({file.string(), std::nullopt, ""}, "must be a JSON object");
  TrainConfig config;
  TrainOptions& o = config.options;
  const fs::path folder = file.parent_path();
  auto fail = [&](const std::string& key, const std::string& what) {
    throw core::InputError({file.string(), std::nullopt, key}, what);
  };
  auto path = [&](const std::string& key, const json& v, fs::path& into) {
    if (!v.is_string() || v.get<std::string>().empty())
      fail(key, "must be a non-empty path string");
    const fs::path p = v.get<std::string>();
    into = p.is_relative() ? folder / p : p;
  };
  auto positive = [&](const std::string& key, const json& v, auto& into) {
    using T = std::decay_t<decltype(into)>;
    if (!(std::is_floating_point_v<T> ? v.is_number() : v.is_number_integer()) ||
        v.get<double>() <= 0)
      fail(key, std::is_floating_point_v<T> ? "must be a positive number"
                                            : "must be a positive integer");
    into = v.get<T>();
  };
  for (const auto& [key, v] : document.items()) {
    if (key == "train")
      path(key, v, o.train);
    else if (key == "val")
      path(key, v, o.val);
    else if (key == "cache")
      path(key, v, o.cache);
    else if (key == "vocab")
      path(key, v, o.vocab);
    else if (key == "tokenizer")
      path(key, v, o.tokenizer);
    else if (key == "out")
      path(key, v, o.out);
    else if (key == "tokenizer_max_length")
      positive(key, v, o.tokenizer_max_length);
    else if (key == "epochs")
      positive(key, v, o.epochs);
    else if (key == "batch")
      positive(key, v, o.batch);
    else if (key == "lr")
      positive(key, v, o.learning_rate);
    else if (key == "lr_step")
      positive(key, v, o.lr_step);
    else if (key == "lr_gamma")
      positive(key, v, o.lr_gamma);
    else if (key == "segments")
      positive(key, v, o.segments);
    else if (key == "heads")
      positive(key, v, o.heads);
    else if (key == "threads")
      positive(key, v, config.threads);
    else if (key == "match_weight") {
      if (!v.is_number() || v.get<double>() < 0) fail(key, "must be a number >= 0");
      o.match_weight = v.get<double>();
    } else if (key == "seed") {
      if (!v.is_number_unsigned()) fail(key, "must be an integer >= 0");
      o.seed = v.get<std::uint64_t>();
    } else if (key == "question_only") {
      if (!v.is_boolean()) fail(key, "must be true or false");
      o.question_only = v.get<bool>();
    } else if (key == "duplicates") {
      try {
        o.duplicates =
            data::parse_duplicate_policy(v.is_string() ? v.get<std::string>() : std::string());
      } catch (const std::invalid_argument& e) {
        fail(key, e.what());
      }
    } else {
      fail(key,
           "is not a train option (see avqa train --help; write flags without '--', '_' for '-')");
    }
    config.keys.insert(key);
  }
  return config;
}

std::string train_config_json(const TrainOptions& o, int threads) {
  auto path = [](const fs::path& p) {
    return p.empty() ? json(nullptr) : json(fs::absolute(p).lexically_normal().string());
  };
  json document = {{"train", path(o.train)},
                   {"val", path(o.val)},
                   {"cache", path(o.cache)},
                   {"vocab", path(o.vocab)},
                   {"tokenizer", path(o.tokenizer)},
                   {"tokenizer_max_length", o.tokenizer_max_length},
                   {"duplicates", std::string(data::to_string(o.duplicates))},
                   {"out", path(o.out)},
                   {"epochs", o.epochs},
                   {"batch", o.batch},
                   {"lr", o.learning_rate},
                   {"lr_step", o.lr_step},
                   {"lr_gamma", o.lr_gamma},
                   {"match_weight", o.match_weight},
                   {"segments", o.segments},
                   {"heads", o.heads},
                   {"seed", o.seed},
                   {"question_only", o.question_only},
                   {"threads", threads}};
  // Unset paths are left out rather than written as null, so the file loads back as it is.
  for (auto it = document.begin(); it != document.end();) {
    it = it->is_null() ? document.erase(it) : std::next(it);
  }
  return document.dump(2) + "\n";
}

StAvqaNet load_run_model(const fs::path& run) {
  const json config = json::parse(data::read_text_file(run / "config.json"));
  StAvqaOptions widths;
  widths.vocab_size = config.at("vocab_size").get<std::int64_t>();
  widths.answers = config.at("answers").get<std::int64_t>();
  widths.audio_dim = config.at("audio_dim").get<std::int64_t>();
  widths.visual_channels = config.at("visual_channels").get<std::int64_t>();
  widths.hidden = config.value("hidden", widths.hidden);
  widths.heads = config.value("heads", widths.heads);
  StAvqaNet model(widths);
  load_state(model, run / "best.pt");
  model->eval();
  return model;
}

Evaluation evaluate(StAvqaNet& model, const QaDataset& data, int batch, bool question_only) {
  Evaluation e;
  model->eval();
  torch::NoGradGuard no_grad;
  for (std::size_t start = 0; start < data.size(); start += static_cast<std::size_t>(batch)) {
    std::vector<std::size_t> indices;
    for (std::size_t i = start; i < std::min(data.size(), start + static_cast<std::size_t>(batch));
         ++i)
      indices.push_back(i);
    const QaBatch b = data.load(indices, /*negatives=*/false, 0, question_only);
    const StAvqaOutput out = model->forward(b.audio, b.visual, b.question);
    const auto probabilities = torch::softmax(out.logits, 1);
    const auto [values, top] =
        probabilities.topk(std::min<std::int64_t>(5, probabilities.size(1)), 1);
    for (std::size_t k = 0; k < indices.size(); ++k) {
      const auto row = static_cast<std::int64_t>(k);
      const std::int64_t predicted = top[row][0].item<std::int64_t>();
      e.predicted.push_back(predicted);
      e.accuracy.add(data.type(indices[k]), predicted == b.label[row].item<std::int64_t>());
      std::vector<std::pair<std::int64_t, float>> five;
      for (std::int64_t j = 0; j < top.size(1); ++j)
        five.emplace_back(top[row][j].item<std::int64_t>(), values[row][j].item<float>());
      e.top5.push_back(five);
      e.spatial_attention.push_back(out.spatial_attention[row].clone());
      e.temporal_visual.push_back(out.temporal_visual[row].clone());
    }
  }
  return e;
}

GroundingScores grounding_scores(const Evaluation& e,
                                 const QaDataset& data,
                                 const fs::path& truth,
                                 const std::vector<int>& segment_seconds,
                                 int frame_size) {
  GroundingScores scores;
  std::map<std::string, json> truths;
  std::size_t hits = 0;
  double mass = 0;
  double area_share = 0;
  double seconds_share = 0;
  for (std::size_t q = 0; q < data.size(); ++q) {
    const std::string& id = data.video_id(q);
    if (!truths.count(id)) truths[id] = json::parse(data::read_text_file(truth / (id + ".json")));
    const json& t = truths[id];
    const auto& spatial = e.spatial_attention[q];
    const auto grid =
        static_cast<int>(std::lround(std::sqrt(static_cast<double>(spatial.size(1)))));
    const double cell = static_cast<double>(frame_size) / grid;
    const double scale =
        static_cast<double>(frame_size) / t.at("width").get<double>();  // boxes are in video pixels
    double sounding_mass = 0;
    bool any_sounding = false;
    for (std::size_t k = 0; k < segment_seconds.size(); ++k) {
      const auto second = static_cast<std::size_t>(segment_seconds[k]);
      std::vector<std::array<double, 4>> boxes;
      for (const json& inst : t.at("instruments")) {
        if (!inst.at("visible").get<bool>()) continue;
        const auto& per_second = inst.at("sounding_per_second");
        if (second >= per_second.size() || per_second[second].get<int>() != 1) continue;
        const auto& b = inst.at("box_per_second")[second];
        boxes.push_back({b[0].get<double>() * scale, b[1].get<double>() * scale,
                         b[2].get<double>() * scale, b[3].get<double>() * scale});
      }
      if (boxes.empty()) continue;
      any_sounding = true;
      double area = 0;  // boxes rarely overlap; their summed area, capped at the frame
      for (const auto& b : boxes)
        area += (b[2] - b[0]) * (b[3] - b[1]);
      area_share += std::min(1.0, area / (static_cast<double>(frame_size) * frame_size));
      seconds_share += 1.0 / static_cast<double>(segment_seconds.size());
      sounding_mass += e.temporal_visual[q][static_cast<std::int64_t>(k)].item<double>();
      const auto peak = spatial[static_cast<std::int64_t>(k)].argmax().item<std::int64_t>();
      const double x = (static_cast<double>(peak % grid) + 0.5) * cell;
      const double y = (static_cast<double>(peak / grid) + 0.5) * cell;
      ++scores.pointing_segments;
      for (const auto& b : boxes) {
        if (x >= b[0] && x < b[2] && y >= b[1] && y < b[3]) {
          ++hits;
          break;
        }
      }
    }
    if (any_sounding) {
      mass += sounding_mass;
      ++scores.temporal_questions;
    }
  }
  if (scores.pointing_segments > 0)
    scores.pointing_accuracy =
        static_cast<double>(hits) / static_cast<double>(scores.pointing_segments);
  if (scores.pointing_segments > 0)
    scores.pointing_chance = area_share / static_cast<double>(scores.pointing_segments);
  if (scores.temporal_questions > 0) {
    scores.temporal_mass = mass / static_cast<double>(scores.temporal_questions);
    scores.temporal_chance = seconds_share / static_cast<double>(scores.temporal_questions);
  }
  return scores;
}

TrainReport train(const TrainOptions& o) {
  if (o.epochs <= 0 || o.batch <= 0 || o.learning_rate <= 0 || o.lr_step <= 0) {
    throw std::invalid_argument("--epochs, --batch, --lr and --lr-step must be positive");
  }
  const data::AnnotationSet train_set = load_split(o.train, o.duplicates);
  const data::AnnotationSet val_set = load_split(o.val, o.duplicates);
  if (o.cache.empty() && !o.question_only)
    throw std::invalid_argument("--cache is required unless --question-only");
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
  core::write_file_atomically(o.out / "run.json", train_config_json(o, torch::get_num_threads()));

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
  const QaDataset train_data(train_set, vocab, cache, o.segments);
  const QaDataset val_data(val_set, vocab, cache, o.segments);

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
  core::write_file_atomically(
      o.out / "config.json",
      json{{"vocab_size", widths.vocab_size},
           {"answers", widths.answers},
           {"audio_dim", widths.audio_dim},
           {"visual_channels", widths.visual_channels},
           {"hidden", widths.hidden},
           {"heads", widths.heads},
           {"segments", o.segments},
           {"question_only", o.question_only},
           {"cache",
            o.cache.empty() ? std::string() : fs::absolute(o.cache).lexically_normal().string()}}
              .dump(2) +
          "\n");

  torch::manual_seed(static_cast<std::int64_t>(o.seed));
  StAvqaNet model(widths);
  torch::optim::Adam adam(model->parameters(), torch::optim::AdamOptions(o.learning_rate));
  TrainReport report;
  int start_epoch = 1;
  if (o.resume) {
    const json state = json::parse(data::read_text_file(state_file));
    const int done = state.at("epoch").get<int>();
    load_state(model, o.out / ("epoch-" + std::to_string(done) + ".pt"));
    torch::load(adam, (o.out / ("epoch-" + std::to_string(done) + ".optim")).string());
    report.best_val_accuracy = state.at("best_val_accuracy").get<double>();
    report.best_epoch = state.at("best_epoch").get<int>();
    for (const json& m : state.at("metrics")) {
      report.epochs.push_back({m.at("epoch").get<int>(), m.at("lr").get<double>(),
                               m.at("train_loss").get<double>(),
                               m.at("train_accuracy").get<double>(),
                               m.at("val_accuracy").get<double>(), m.at("seconds").get<double>()});
    }
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
      const auto n = out.match_positive.size(0);
      const auto match_labels =
          torch::cat({torch::ones({n}, torch::kLong), torch::zeros({n}, torch::kLong)});
      const auto loss =
          torch::cross_entropy_loss(out.logits, b.label) +
          o.match_weight * torch::cross_entropy_loss(
                               torch::cat({out.match_positive, out.match_negative}), match_labels);
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
    write_torch_state_dict(o.out / (tag + ".pt"), state_of(model));
    const fs::path optim_temp = o.out / (tag + ".optim.tmp");
    torch::save(adam, optim_temp.string());
    fs::rename(optim_temp, o.out / (tag + ".optim"));
    if (m.val_accuracy >=
        report.best_val_accuracy) {  // ties move to the later epoch, as the original
      report.best_val_accuracy = m.val_accuracy;
      report.best_epoch = epoch;
      write_torch_state_dict(o.out / "best.pt", state_of(model));
    }
    json metrics = json::array();
    std::string lines;
    for (const auto& e : report.epochs) {
      const json line = {{"epoch", e.epoch},
                         {"lr", e.learning_rate},
                         {"train_loss", e.train_loss},
                         {"train_accuracy", e.train_accuracy},
                         {"val_accuracy", e.val_accuracy},
                         {"seconds", e.seconds}};
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
