// `avqa import-checkpoint` and `avqa export-checkpoint`: the original ST-AVQA checkpoints.
#include <cstdio>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <type_traits>
#include <variant>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "avclass/classification_task.h"
#include "avqa/evaluation.h"
#include "avqa/original_checkpoint.h"
#include "avqa/question_answering.h"
#include "avqa/robust_evaluation.h"
#include "avqa/run_folder.h"
#include "avqa/trainer.h"
#include "core/atomic_file.h"
#include "core/checkpoint/torch_checkpoint.h"
#include "core/runtime/torch_runtime.h"
#include "tools/commands.h"

namespace avqa::tools {
namespace {

// Every train flag from the one declaration of the options (avqa/train_options.h).
void add_train_flags(CLI::App& train, net::TrainOptions& o) {
  for (const net::TrainOptionSpec& spec : net::train_option_specs()) {
    if (!spec.on_command_line) continue;
    const std::string flag = "--" + spec.name;
    std::visit(
        [&](auto member) {
          using T = std::decay_t<decltype(o.*member)>;
          if constexpr (std::is_same_v<T, bool>) {
            train.add_flag(flag, o.*member, spec.help);
          } else if constexpr (net::is_choice_v<T>) {
            train
                .add_option_function<std::string>(
                    flag,
                    [&o, member](const std::string& v) { o.*member = net::Choice<T>::parse(v); },
                    spec.help)
                ->check(CLI::IsMember(net::Choice<T>::names()))
                ->default_str(net::Choice<T>::name(o.*member));
          } else if constexpr (std::is_same_v<T, std::vector<std::filesystem::path>>) {
            train
                .add_option_function<std::vector<std::string>>(
                    flag,
                    [&o, member](const std::vector<std::string>& v) {
                      (o.*member).assign(v.begin(), v.end());
                    },
                    spec.help)
                ->delimiter(',');
          } else if constexpr (std::is_same_v<T, std::filesystem::path>) {
            train.add_option_function<std::string>(
                flag, [&o, member](const std::string& v) { o.*member = v; }, spec.help);
          } else {
            auto* option = train.add_option(flag, o.*member, spec.help)->capture_default_str();
            if (spec.range == net::TrainOptionSpec::Range::Positive)
              option->check(CLI::PositiveNumber);
            else if (spec.range == net::TrainOptionSpec::Range::NonNegative)
              option->check(CLI::NonNegativeNumber);
          }
        },
        spec.field);
  }
}

struct ImportArgs {
  net::ImportOptions options;
  std::string checkpoint, train_annotations, vocab, out;
};

void run_import(const ImportArgs& a) {
  net::ImportOptions o = a.options;
  o.checkpoint = a.checkpoint;
  o.train_annotations = a.train_annotations;
  o.vocab = a.vocab;
  o.out = a.out;
  const net::ImportReport r = net::import_original_run(o);
  std::printf(
      "imported %zu tensors (vocabulary %lld rows, %zu words; answer head %lld, %zu answers "
      "named) -> run %s\n",
      r.tensors, static_cast<long long>(r.widths.vocab_size), r.words,
      static_cast<long long>(r.widths.answers), r.answers, a.out.c_str());
  std::printf("%zu tensors in the file are not used by the forward pass and were left out",
              r.unused.size());
  std::size_t shown = 0;
  for (const auto& name : r.unused) {
    if (name.rfind("visual_net.", 0) == 0 && name != "visual_net.conv1.weight")
      continue;  // one line for the ResNet
    std::printf("%s%s", shown++ ? ", " : ": ",
                name == "visual_net.conv1.weight" ? "visual_net.*" : name.c_str());
  }
  std::printf("\nevaluate with: avqa eval --run %s --annotations <file> --cache <features>\n",
              a.out.c_str());
}

struct ExportArgs {
  std::string input, out;
  std::string format = "original";
};

void run_export(const ExportArgs& a) {
  net::StAvqaNet model = net::open_model(a.input);
  const checkpoint::NamedTensors original = net::to_original_layout(model);
  checkpoint::write_torch_state_dict(a.out, original);
  std::printf(
      "wrote %s: %zu tensors in the original layout (module. prefixes; unused layers zero-filled), "
      "for\n"
      "model.load_state_dict(torch.load(path)) in net_grd_avst\n",
      a.out.c_str(), original.size());
}

struct TrainArgs {
  net::TrainOptions flags;
  std::string config;
};

void run_train(const TrainArgs& a, const CLI::App& cmd, const GlobalOptions& global) {
  net::TrainConfig file;
  if (!a.config.empty()) file = net::load_train_config(a.config);
  net::TrainOptions o = net::merge_train_options(
      file, a.flags, [&cmd](const std::string& name) { return cmd.count("--" + name) > 0; });
  net::validate_train_options(o);
  // --threads before the command wins over the file's.
  o.threads = runtime::configure_torch({global.threads > 0 ? global.threads : o.threads});
  std::fprintf(stderr, "training on %d thread(s) -> %s\n", o.threads, o.out.c_str());
  if (o.task == "classify") {
    const train::FitReport r = avclass::train_classifier(o);
    std::printf("best val accuracy %.2f%% at epoch %d -> %s\n", 100 * r.best_val_accuracy,
                r.best_epoch, r.best_model.c_str());
    return;
  }
  const net::TrainReport r = net::train(o);
  std::printf("best val accuracy %.2f%% at epoch %d -> %s\n", 100 * r.best_val_accuracy,
              r.best_epoch, r.best_model.c_str());
}

/// What eval and robust-eval both read: a run, a split of annotations, the features.
struct RunSplitArgs {
  net::EvalOptions options;
  std::string run, annotations, cache;
  std::string duplicates = "error";

  net::EvalOptions eval_options() const {
    net::EvalOptions o = options;
    o.run = run;
    o.annotations = annotations;
    o.cache = cache;
    o.duplicates = data::parse_duplicate_policy(duplicates);
    return o;
  }
};

void add_run_split_options(CLI::App& cmd, RunSplitArgs& a) {
  cmd.add_option("--run", a.run, "Run folder written by avqa train")->required();
  cmd.add_option("--annotations", a.annotations, "Annotations to evaluate")->required();
  cmd.add_option("--cache", a.cache, "Feature cache (default: the run's)");
  cmd.add_option("--duplicates", a.duplicates,
                 "Repeated question_ids: error, keep-first, keep-last, keep-all")
      ->check(CLI::IsMember({"error", "keep-first", "keep-last", "keep-all"}))
      ->capture_default_str();
  cmd.add_option("--batch", a.options.batch, "Questions per forward pass")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
}

struct EvalArgs {
  RunSplitArgs split;
  std::string predictions, truth;
  bool json = false;
  bool per_template = false;
};

void run_eval(const EvalArgs& a, const GlobalOptions& global) {
  runtime::configure_torch({global.threads});
  net::EvalOptions o = a.split.eval_options();
  o.truth = a.truth;
  if (avclass::is_classification_run(o.run)) {
    const auto report = avclass::evaluate_classifier(o.run, o.annotations, o.cache);
    std::printf("%s", a.json ? avclass::classification_report_json(report).c_str()
                             : avclass::format_classification_report(report).c_str());
    return;
  }
  const net::EvalReport report = net::evaluate_run(o);
  std::printf("%s", a.json ? net::eval_report_json(report, a.per_template).c_str()
                           : net::format_eval_report(report).c_str());
  if (a.per_template && !a.json)
    std::printf("%s", net::format_template_scores(report.templates).c_str());
  if (!a.predictions.empty())
    core::write_file_atomically(a.predictions, net::predictions_json(report));
}

struct RobustEvalArgs {
  RunSplitArgs split;
  train::RobustEvalOptions robust;
  std::string json, markdown, plot;
  std::string norm = "l2";
  bool no_attacks = false;
  bool no_missing = false;
  bool absolute = false;
  bool no_noise = false;
};

void run_robust_eval(const RobustEvalArgs& a, const GlobalOptions& global) {
  if (!a.plot.empty() && a.no_attacks)
    throw std::invalid_argument("--plot draws the attacks: it needs them (drop --no-attacks)");
  runtime::configure_torch({global.threads});
  const net::EvalOptions o = a.split.eval_options();
  train::RobustEvalOptions r = a.robust;
  r.norm = train::parse_attack_norm(a.norm);
  r.attacks = !a.no_attacks;
  r.relative = !a.absolute;
  r.missing = !a.no_missing;
  r.batch = o.batch;
  if (a.no_noise) r.snr_db.clear();
  const auto progress = [](const std::string& label) {
    std::fprintf(stderr, "robust-eval: %s\n", label.c_str());
  };
  // Questions are grouped by type; a classification run's videos form one group.
  train::RobustReport report;
  std::vector<std::string> groups, order;
  const char* unit = "questions";
  if (avclass::is_classification_run(o.run)) {
    report = avclass::robust_evaluate_classifier(o.run, o.annotations, o.cache, r, progress);
    unit = "videos";
  } else {
    net::RobustEvalRun result = net::robust_evaluate_run(o, r, progress);
    report = std::move(result.report);
    groups = std::move(result.types);
    order = std::move(result.type_order);
  }
  const std::string markdown = train::to_markdown(report, groups, order);
  std::printf("%s: %lld %s; attacks %s, %d step(s), on the cached features\n%s",
              o.annotations.c_str(),
              static_cast<long long>(report.conditions.front().correct.numel()), unit,
              train::to_string(r.norm), r.steps, markdown.c_str());
  if (!a.markdown.empty()) core::write_file_atomically(a.markdown, markdown);
  if (!a.json.empty())
    core::write_file_atomically(a.json, train::to_json(report, groups, order).dump(2) + "\n");
  if (!a.plot.empty()) net::write_attack_plot(report, a.plot);
}

struct AskArgs {
  net::AskOptions options;
  std::string run, video, visual_weights, audio_weights, values, overlay, attack;
  net::VideoAttack attack_options;
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
  if (!a.attack.empty()) {
    o.attack = a.attack_options;
    o.attack->modality = a.attack;
  }
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
    out["segments_seconds"] = r.segment_seconds;
    if (!r.notes.empty()) out["notes"] = r.notes;
    out["temporal_visual"] = tv;
    out["temporal_audio"] = ta;
    const net::ModalityContribution& c = r.contribution;
    out["contribution"] = {{"audio", c.audio},
                           {"visual", c.visual},
                           {"probability",
                            {{"both", c.both},
                             {"audio_only", c.audio_only},
                             {"visual_only", c.visual_only},
                             {"question_only", c.neither}}}};
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
  std::printf("looked most at second %g (visual attention %.2f)\n",
              r.segment_seconds[static_cast<std::size_t>(peak)],
              r.temporal_visual[peak].item<float>());
  const net::ModalityContribution& c = r.contribution;
  std::printf(
      "contribution to this answer: audio %+.2f, visual %+.2f (its probability %.2f with both, "
      "%.2f audio alone, %.2f visual alone, %.2f from the question alone)\n",
      c.audio, c.visual, c.both, c.audio_only, c.visual_only, c.neither);
  for (const auto& note : r.notes)
    std::printf("note: %s\n", note.c_str());
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
  ask->add_option("--attack", k->attack,
                  "Answer under an l2 PGD attack on the decoded audio or visual input, through "
                  "the backbones (the clean answer's loss raised)")
      ->check(CLI::IsMember({"audio", "visual"}));
  ask->add_option("--attack-radius", k->attack_options.radius,
                  "Attack radius, a share of that input's l2 norm")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  ask->add_option("--attack-steps", k->attack_options.steps, "PGD steps of radius / 3")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  ask->callback([k, &global] { run_ask(*k, global); });

  auto t = std::make_shared<TrainArgs>();
  CLI::App* train = app.add_subcommand(
      "train", "Train ST-AVQA on a feature cache (the original recipe by default)");
  train->add_option("--config", t->config,
                    "Run configuration (JSON: these flags' names with '_' for '-', e.g. "
                    "{\"train\": ..., \"epochs\": 30}); flags given here override it");
  add_train_flags(*train, t->flags);
  train->callback([t, train, &global] { run_train(*t, *train, global); });

  auto e = std::make_shared<EvalArgs>();
  CLI::App* eval = app.add_subcommand(
      "eval", "Accuracy per question type of a trained run, pooled as the original");
  add_run_split_options(*eval, e->split);
  eval->add_option("--predictions", e->predictions,
                   "Write each question's prediction and top-5 here (JSON)");
  eval->add_option(
      "--truth", e->truth,
      "Generated truth/ folder for grounding scores (default: the one beside annotations/)");
  eval->add_flag("--json", e->json, "Machine-readable output");
  eval->add_flag("--per-template", e->per_template,
                 "Accuracy per question template and, on generated data, with the attention on "
                 "the sounding instrument or not");
  eval->callback([e, &global] { run_eval(*e, global); });

  auto rob = std::make_shared<RobustEvalArgs>();
  CLI::App* robust = app.add_subcommand(
      "robust-eval",
      "Accuracy of a trained run when a modality is attacked (FGM/PGD), missing, noisy or "
      "degraded per sample: per condition and question type (Markdown; --json, --markdown)");
  add_run_split_options(*robust, rob->split);
  robust->add_option("--norm", rob->norm, "Attack norm: l2 or linf")
      ->check(CLI::IsMember({"l2", "linf"}))
      ->capture_default_str();
  rob->robust.radii = {0.02, 0.05, 0.1};
  robust
      ->add_option("--radii", rob->robust.radii,
                   "Attack radii per modality, fractions of each question's input norm "
                   "(comma-separated)")
      ->delimiter(',')
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  robust->add_option("--steps", rob->robust.steps, "PGD steps of radius / 3 (1: FGM)")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  robust
      ->add_option("--snr", rob->robust.snr_db,
                   "Gaussian noise levels, dB signal-to-noise (comma-separated)")
      ->delimiter(',')
      ->capture_default_str();
  robust
      ->add_option("--drop-fraction", rob->robust.drop_fraction,
                   "Share of the seconds dropped (zeroed) per question")
      ->check(CLI::Range(0.0, 1.0))
      ->capture_default_str();
  robust
      ->add_option("--quality", rob->robust.quality_probability,
                   "Share of questions that lose a random modality (0: skip)")
      ->check(CLI::Range(0.0, 1.0))
      ->capture_default_str();
  robust->add_option("--seed", rob->robust.seed, "Seed of the random corruptions")
      ->capture_default_str();
  robust->add_flag("--absolute", rob->absolute,
                   "Radii as absolute norms (as CRMT's rob_test on images) instead of fractions: "
                   "the audio [T, 128] and the maps [T, 512, H, W] differ in size and scale");
  robust->add_flag("--no-attacks", rob->no_attacks, "Skip the attacks (the slow part)");
  robust->add_flag("--no-missing", rob->no_missing, "Skip the missing-modality conditions");
  robust->add_flag("--no-noise", rob->no_noise, "Skip the noise conditions");
  robust->add_option("--json", rob->json, "Also write the report here (JSON)");
  robust->add_option("--markdown", rob->markdown, "Also write the table here (Markdown)");
  robust->add_option("--plot", rob->plot,
                     "Also draw accuracy against the attack radius per modality here (PNG)");
  robust->callback([rob, &global] { run_robust_eval(*rob, global); });

  auto imp = std::make_shared<ImportArgs>();
  CLI::App* import_cmd = app.add_subcommand(
      "import-checkpoint",
      "An original ST-AVQA checkpoint (torch.save of a DataParallel state-dict) as a run folder "
      "that avqa eval and avqa ask open");
  import_cmd->add_option("checkpoint", imp->checkpoint, "The original avst.pt")->required();
  auto* from_train = import_cmd->add_option(
      "--train-annotations", imp->train_annotations,
      "The training file the checkpoint learnt from (avqa-train.json): words and answers in "
      "order of first appearance, as the original's dataloader builds them");
  auto* from_vocab =
      import_cmd->add_option("--vocab", imp->vocab, "Or a vocabulary file (avqa data vocab)");
  from_train->excludes(from_vocab);
  import_cmd->add_option("--out", imp->out, "Run folder to write")->required();
  import_cmd->add_option("--segments", imp->options.segments, "Segments the model sees")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  import_cmd->callback([imp] { run_import(*imp); });

  auto exp = std::make_shared<ExportArgs>();
  CLI::App* export_cmd =
      app.add_subcommand("export-checkpoint",
                         "Write a run (or an avqa model file) as a checkpoint the original loads");
  export_cmd->add_option("model", exp->input, "Run folder, or a model file (best.pt)")->required();
  export_cmd->add_option("--format", exp->format, "Layout: original")
      ->check(CLI::IsMember({"original"}))
      ->capture_default_str();
  export_cmd->add_option("--out", exp->out, "Checkpoint to write")->required();
  export_cmd->callback([exp] { run_export(*exp); });
}

}  // namespace avqa::tools
