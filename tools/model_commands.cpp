// `avqa import-checkpoint` and `avqa export-checkpoint`: the original ST-AVQA checkpoints.
#include <cstdio>
#include <map>
#include <memory>
#include <optional>
#include <sstream>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "avqa/original_checkpoint.h"
#include "avqa/question_answering.h"
#include "avqa/torch_checkpoint.h"
#include "avqa/trainer.h"
#include "core/atomic_file.h"
#include "core/runtime/torch_runtime.h"
#include "tools/commands.h"

namespace avqa::tools {
namespace {

struct CheckpointArgs {
  std::string input;
  std::string out;
  std::string format = "original";
};

void run_import(const CheckpointArgs& a) {
  const net::NamedTensors tensors = net::read_torch_state_dict(a.input);
  net::StAvqaNet model(net::infer_options(tensors, a.input));
  const net::CheckpointImport report = net::load_original_checkpoint(model, tensors, a.input);
  net::NamedTensors weights;
  for (const auto& p : model->named_parameters())
    weights.emplace_back(p.key(), p.value());
  net::write_torch_state_dict(a.out, weights);
  const auto& o = model->options();
  std::printf("imported %zu tensors (vocabulary %lld, answers %lld, hidden %lld) -> %s\n",
              report.loaded.size(), static_cast<long long>(o.vocab_size),
              static_cast<long long>(o.answers), static_cast<long long>(o.hidden), a.out.c_str());
  std::printf("%zu tensors in the file are not used by the forward pass and were left out",
              report.unused.size());
  std::size_t shown = 0;
  for (const auto& name : report.unused) {
    if (name.rfind("visual_net.", 0) == 0 && name != "visual_net.conv1.weight")
      continue;  // one line for the ResNet
    std::printf("%s%s", shown++ ? ", " : ": ",
                name == "visual_net.conv1.weight" ? "visual_net.*" : name.c_str());
  }
  std::printf("\n");
}

void run_export(const CheckpointArgs& a) {
  if (a.format != "original") throw std::invalid_argument("--format: only 'original' is supported");
  const net::NamedTensors tensors = net::read_torch_state_dict(a.input);
  net::StAvqaNet model(net::infer_options(tensors, a.input));
  net::load_original_checkpoint(model, tensors, a.input);
  const net::NamedTensors original = net::to_original_layout(model);
  net::write_torch_state_dict(a.out, original);
  std::printf(
      "wrote %s: %zu tensors in the original layout (module. prefixes; unused layers zero-filled), "
      "for\n"
      "model.load_state_dict(torch.load(path)) in net_grd_avst\n",
      a.out.c_str(), original.size());
}

struct TrainArgs {
  net::TrainOptions options;
  std::string train, val, cache, out, vocab, tokenizer, config;
  std::string duplicates = "error";
};

// The options of a run: the config file's values (when given), each overridden by its flag when
// the flag is on the command line, then the built-in defaults.
net::TrainOptions merge_train_options(const TrainArgs& a, const CLI::App& cmd, int& threads) {
  net::TrainOptions flags = a.options;
  flags.train = a.train;
  flags.val = a.val;
  flags.cache = a.cache;
  flags.vocab = a.vocab;
  flags.tokenizer = a.tokenizer;
  flags.out = a.out;
  flags.duplicates = data::parse_duplicate_policy(a.duplicates);
  if (a.config.empty()) return flags;
  const net::TrainConfig file = net::load_train_config(a.config);
  net::TrainOptions o = file.options;
  auto given = [&](const char* flag) { return cmd.count(flag) > 0; };
  if (given("--train")) o.train = flags.train;
  if (given("--val")) o.val = flags.val;
  if (given("--cache")) o.cache = flags.cache;
  if (given("--vocab")) o.vocab = flags.vocab;
  if (given("--tokenizer")) o.tokenizer = flags.tokenizer;
  if (given("--tokenizer-max-length")) o.tokenizer_max_length = flags.tokenizer_max_length;
  if (given("--out")) o.out = flags.out;
  if (given("--duplicates")) o.duplicates = flags.duplicates;
  if (given("--epochs")) o.epochs = flags.epochs;
  if (given("--batch")) o.batch = flags.batch;
  if (given("--lr")) o.learning_rate = flags.learning_rate;
  if (given("--lr-step")) o.lr_step = flags.lr_step;
  if (given("--lr-gamma")) o.lr_gamma = flags.lr_gamma;
  if (given("--match-weight")) o.match_weight = flags.match_weight;
  if (given("--segments")) o.segments = flags.segments;
  if (given("--heads")) o.heads = flags.heads;
  if (given("--seed")) o.seed = flags.seed;
  if (given("--question-only")) o.question_only = true;
  o.resume = flags.resume;
  o.progress = flags.progress;
  if (threads == 0) threads = file.threads;  // --threads before the command wins
  return o;
}

void run_train(TrainArgs& a, const CLI::App& cmd, const GlobalOptions& global) {
  int requested_threads = global.threads;
  const net::TrainOptions o = merge_train_options(a, cmd, requested_threads);
  for (const auto& [name, value] :
       {std::pair{"--train", &o.train}, {"--val", &o.val}, {"--out", &o.out}}) {
    if (value->empty())
      throw std::invalid_argument(std::string(name) +
                                  " is required (on the command line or in --config)");
  }
  const int threads = runtime::configure_torch({requested_threads});
  std::fprintf(stderr, "training on %d thread(s) -> %s\n", threads, o.out.c_str());
  const net::TrainReport r = net::train(o);
  std::printf("best val accuracy %.2f%% at epoch %d -> %s\n", 100 * r.best_val_accuracy,
              r.best_epoch, r.best_model.c_str());
}

struct EvalArgs {
  std::string run, annotations, cache, predictions, truth;
  std::string duplicates = "error";
  int batch = 64;
  bool json = false;
};

void run_eval(const EvalArgs& a, const GlobalOptions& global) {
  runtime::configure_torch({global.threads});
  const std::filesystem::path run(a.run);
  const data::Vocabularies vocab = data::load_vocabularies(run / "vocab.json");
  const auto config = nlohmann::json::parse(data::read_text_file(run / "config.json"));
  net::StAvqaNet model = net::load_run_model(run);
  const data::AnnotationSet set =
      data::load_annotations(a.annotations, {data::parse_duplicate_policy(a.duplicates)});
  const std::string cache_path = a.cache.empty() ? config.value("cache", std::string()) : a.cache;
  std::shared_ptr<const features::FeatureCacheReader> cache;
  if (!cache_path.empty()) cache = std::make_shared<const features::FeatureCacheReader>(cache_path);
  const net::QaDataset dataset(set, vocab, cache, config.at("segments").get<int>());
  const net::Evaluation e =
      net::evaluate(model, dataset, a.batch, config.value("question_only", false));
  // Grounding against a generated dataset's truth: --truth, or the truth/ beside annotations/.
  std::filesystem::path truth = a.truth;
  const auto beside = std::filesystem::path(a.annotations).parent_path().parent_path() / "truth";
  if (truth.empty() && std::filesystem::is_directory(beside)) truth = beside;
  std::optional<net::GroundingScores> grounding;
  if (!truth.empty() && cache &&
      !config.value("question_only", false)) {  // a blind run looks nowhere
    const auto& layout = cache->layout();
    const int segments = config.at("segments").get<int>();
    std::vector<int> seconds;
    for (int k = 0; k < segments; ++k) {
      seconds.push_back(static_cast<int>((k * layout.segments / segments) / layout.fps));
    }
    const int frame_size =
        layout.attributes.count("frame_size") ? std::stoi(layout.attributes.at("frame_size")) : 224;
    grounding = net::grounding_scores(e, dataset, truth, seconds, frame_size);
  }
  if (a.json) {
    auto out = nlohmann::ordered_json::parse(e.accuracy.to_json());
    if (grounding) {
      out["grounding"] = {{"pointing_accuracy", grounding->pointing_accuracy},
                          {"pointing_chance", grounding->pointing_chance},
                          {"pointing_segments", grounding->pointing_segments},
                          {"temporal_mass", grounding->temporal_mass},
                          {"temporal_chance", grounding->temporal_chance},
                          {"temporal_questions", grounding->temporal_questions}};
    }
    std::printf("%s\n", out.dump(2).c_str());
  } else {
    std::printf("%s: %zu questions\n%s", a.annotations.c_str(), dataset.size(),
                e.accuracy.format_table().c_str());
    if (grounding) {
      std::printf(
          "Grounding (truth in %s)\n"
          "  attention peak on an instrument sounding then: %.1f%% of %zu segments (chance "
          "%.1f%%)\n"
          "  visual temporal attention on sounding seconds: %.1f%% (uniform %.1f%%), %zu "
          "questions\n",
          truth.c_str(), 100 * grounding->pointing_accuracy, grounding->pointing_segments,
          100 * grounding->pointing_chance, 100 * grounding->temporal_mass,
          100 * grounding->temporal_chance, grounding->temporal_questions);
    }
  }
  if (!a.predictions.empty()) {
    nlohmann::ordered_json list = nlohmann::ordered_json::array();
    for (std::size_t i = 0; i < dataset.size(); ++i) {
      nlohmann::ordered_json top = nlohmann::ordered_json::array();
      for (const auto& [answer, p] : e.top5[i])
        top.push_back({{"answer", vocab.answers.answer(answer)}, {"probability", p}});
      list.push_back({{"question_id", dataset.question_id(i)},
                      {"video_id", dataset.video_id(i)},
                      {"predicted", vocab.answers.answer(e.predicted[i])},
                      {"answer", set.records[i].answer},
                      {"top5", top}});
    }
    core::write_file_atomically(a.predictions, list.dump(2) + "\n");
  }
}

struct AskArgs {
  net::AskOptions options;
  std::string run, video, visual_weights, audio_weights, values, overlay;
  bool json = false;
};

void run_ask(AskArgs& a, const GlobalOptions& global) {
  runtime::configure_torch({global.threads});
  net::AskOptions& o = a.options;
  o.run = a.run;
  o.video = a.video;
  o.visual_weights = a.visual_weights;
  o.audio_weights = a.audio_weights;
  std::stringstream values(a.values);
  for (std::string v; std::getline(values, v, ',');)
    o.values.push_back(v);
  const net::AskResult r = net::ask(o);
  std::vector<std::filesystem::path> files;
  if (!a.overlay.empty()) files = net::write_overlays(r, a.overlay);
  if (a.json) {
    nlohmann::ordered_json out = {
        {"video", a.video}, {"question", o.question}, {"answer", r.answer}};
    nlohmann::ordered_json top = nlohmann::ordered_json::array();
    for (const auto& [answer, p] : r.top5)
      top.push_back({{"answer", answer}, {"probability", p}});
    out["top5"] = top;
    if (!r.pieces.empty()) out["pieces"] = r.pieces;
    std::vector<float> tv(r.temporal_visual.data_ptr<float>(),
                          r.temporal_visual.data_ptr<float>() + r.temporal_visual.numel());
    std::vector<float> ta(r.temporal_audio.data_ptr<float>(),
                          r.temporal_audio.data_ptr<float>() + r.temporal_audio.numel());
    out["segments_seconds"] = r.segments;
    out["temporal_visual"] = tv;
    out["temporal_audio"] = ta;
    std::vector<std::string> paths;
    for (const auto& f : files)
      paths.push_back(f.string());
    out["overlays"] = paths;
    std::printf("%s\n", out.dump(2).c_str());
    return;
  }
  std::string heard;
  for (const auto& w : r.words)
    heard += (heard.empty() ? "" : " ") + w;
  std::printf("question (as read): %s\n", heard.c_str());
  if (!r.pieces.empty()) {
    std::string pieces;
    for (const auto& p : r.pieces)
      pieces += (pieces.empty() ? "" : " ") + p;
    std::printf("as pieces: %s\n", pieces.c_str());
  }
  std::printf("answer: %s\n", r.answer.c_str());
  for (const auto& [answer, p] : r.top5)
    std::printf("  %-16s %5.1f%%\n", answer.c_str(), 100 * p);
  const auto peak = r.temporal_visual.argmax().item<std::int64_t>();
  std::printf("looked most at second %d (visual attention %.2f)\n",
              r.segments[static_cast<std::size_t>(peak)], r.temporal_visual[peak].item<float>());
  if (!files.empty())
    std::printf("overlays: %zu files in %s (segment-XX.png, temporal.png)\n", files.size(),
                a.overlay.c_str());
}

}  // namespace

void add_model_commands(CLI::App& app, const GlobalOptions& global) {
  auto k = std::make_shared<AskArgs>();
  CLI::App* ask = app.add_subcommand(
      "ask",
      "Answer a question about a video with a trained run, showing where and when it looked");
  ask->add_option("--run", k->run, "Run folder written by avqa train")->required();
  ask->add_option("--video", k->video, "Video file")->required();
  ask->add_option("--question", k->options.question, "Question, written out or with <placeholders>")
      ->required();
  ask->add_option("--values", k->values, "Placeholder values, comma-separated, in order");
  ask->add_option("--visual-weights", k->visual_weights,
                  "The ResNet-18 weights the run's features were extracted with");
  ask->add_option("--audio-weights", k->audio_weights,
                  "The VGGish weights the run's features were extracted with");
  ask->add_option("--overlay", k->overlay,
                  "Folder for per-segment attention overlays and the temporal plot (PNG)");
  ask->add_flag("--json", k->json, "Machine-readable output");
  ask->callback([k, &global] { run_ask(*k, global); });

  auto t = std::make_shared<TrainArgs>();
  net::TrainOptions& o = t->options;
  CLI::App* train = app.add_subcommand(
      "train", "Train ST-AVQA on a feature cache (the original recipe by default)");
  train->add_option("--config", t->config,
                    "Run configuration (JSON: these flags' names with '_' for '-', e.g. "
                    "{\"train\": ..., \"epochs\": 30}); flags given here override it");
  train->add_option("--train", t->train, "Training annotations (required here or in --config)");
  train->add_option("--val", t->val, "Validation annotations, best model by accuracy (required)");
  train->add_option(
      "--cache", t->cache,
      "HDF5 feature cache with both splits' videos (not needed with --question-only)");
  train->add_option(
      "--vocab", t->vocab,
      "Vocabulary file from `avqa data vocab` (default: train + val words, the 42 answers)");
  train
      ->add_option("--duplicates", t->duplicates,
                   "Repeated question_ids: error, keep-first, keep-last, keep-all")
      ->check(CLI::IsMember({"error", "keep-first", "keep-last", "keep-all"}))
      ->capture_default_str();
  train->add_option("--tokenizer", t->tokenizer,
                    "SentencePiece model from `avqa data spm-train`: questions as pieces, so any "
                    "wording can be asked (default: the original word vocabulary)");
  train->add_option("--tokenizer-max-length", o.tokenizer_max_length, "Pieces per question")
      ->capture_default_str();
  train->add_option("--out", t->out, "Run folder: checkpoints, metrics.jsonl, run.json (required)");
  train->add_option("--epochs", o.epochs, "Epochs")->capture_default_str();
  train->add_option("--batch", o.batch, "Batch size")->capture_default_str();
  train->add_option("--lr", o.learning_rate, "Adam learning rate")->capture_default_str();
  train->add_option("--lr-step", o.lr_step, "StepLR step in epochs")->capture_default_str();
  train->add_option("--lr-gamma", o.lr_gamma, "StepLR factor")->capture_default_str();
  train->add_option("--match-weight", o.match_weight, "Weight of the audio-visual match loss")
      ->capture_default_str();
  train->add_option("--segments", o.segments, "Segments the model sees (spread over the cache's)")
      ->capture_default_str();
  train->add_option("--heads", o.heads, "Temporal attention heads")->capture_default_str();
  train->add_option("--seed", o.seed, "Random seed")->capture_default_str();
  train->add_flag("--question-only", o.question_only,
                  "Zero audio and visual inputs: the question-only baseline");
  train->add_flag("--resume", o.resume, "Continue the run in --out where it stopped");
  train->callback([t, train, &global] { run_train(*t, *train, global); });

  auto e = std::make_shared<EvalArgs>();
  CLI::App* eval = app.add_subcommand(
      "eval", "Accuracy per question type of a trained run, pooled as the original");
  eval->add_option("--run", e->run, "Run folder written by avqa train")->required();
  eval->add_option("--annotations", e->annotations, "Annotations to evaluate")->required();
  eval->add_option("--cache", e->cache, "Feature cache (default: the run's)");
  eval->add_option("--predictions", e->predictions,
                   "Write each question's prediction and top-5 here (JSON)");
  eval->add_option(
      "--truth", e->truth,
      "Generated truth/ folder for grounding scores (default: the one beside annotations/)");
  eval->add_option("--duplicates", e->duplicates,
                   "Repeated question_ids: error, keep-first, keep-last, keep-all")
      ->check(CLI::IsMember({"error", "keep-first", "keep-last", "keep-all"}))
      ->capture_default_str();
  eval->add_flag("--json", e->json, "Machine-readable output");
  eval->callback([e, &global] { run_eval(*e, global); });

  auto imp = std::make_shared<CheckpointArgs>();
  CLI::App* import_cmd = app.add_subcommand("import-checkpoint",
                                            "Read an original ST-AVQA checkpoint (torch.save of a "
                                            "DataParallel state-dict) into avqa's format");
  import_cmd->add_option("checkpoint", imp->input, "The original avst.pt")->required();
  import_cmd->add_option("--out", imp->out, "avqa model file to write")->required();
  import_cmd->callback([imp] { run_import(*imp); });

  auto exp = std::make_shared<CheckpointArgs>();
  CLI::App* export_cmd = app.add_subcommand(
      "export-checkpoint", "Write an avqa model as a checkpoint the original code loads");
  export_cmd->add_option("model", exp->input, "avqa model file")->required();
  export_cmd->add_option("--format", exp->format, "Layout: original")
      ->check(CLI::IsMember({"original"}))
      ->capture_default_str();
  export_cmd->add_option("--out", exp->out, "Checkpoint to write")->required();
  export_cmd->callback([exp] { run_export(*exp); });
}

}  // namespace avqa::tools
