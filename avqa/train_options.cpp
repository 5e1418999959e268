#include "avqa/train_options.h"

#include <cstdio>
#include <stdexcept>
#include <type_traits>

#include <nlohmann/json.hpp>

#include "avqa/qa_dataset.h"
#include "core/input_error.h"
#include "core/train/crmt.h"

namespace avqa::net {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;
using Range = TrainOptionSpec::Range;

template <typename T>
using Member = T TrainOptions::*;

}  // namespace

template <>
std::vector<std::string> Choice<data::DuplicatePolicy>::names() {
  return {"error", "keep-first", "keep-last", "keep-all"};
}
template <>
data::DuplicatePolicy Choice<data::DuplicatePolicy>::parse(const std::string& name) {
  return data::parse_duplicate_policy(name);
}
template <>
std::string Choice<data::DuplicatePolicy>::name(data::DuplicatePolicy value) {
  return std::string(data::to_string(value));
}
template <>
std::vector<std::string> Choice<train::OptimizerKind>::names() {
  return {"adam", "adamw", "sgd"};
}
template <>
train::OptimizerKind Choice<train::OptimizerKind>::parse(const std::string& name) {
  return train::parse_optimizer_kind(name);
}
template <>
std::string Choice<train::OptimizerKind>::name(train::OptimizerKind value) {
  return train::to_string(value);
}
template <>
std::vector<std::string> Choice<train::BalanceMethod>::names() {
  std::vector<std::string> out;
  for (const auto m : train::balance_methods())
    out.push_back(train::to_string(m));
  return out;
}
template <>
train::BalanceMethod Choice<train::BalanceMethod>::parse(const std::string& name) {
  return train::parse_balance_method(name);
}
template <>
std::string Choice<train::BalanceMethod>::name(train::BalanceMethod value) {
  return train::to_string(value);
}

std::string TrainOptionSpec::key() const {
  std::string k = name;
  for (char& c : k) {
    if (c == '-') c = '_';
  }
  return k;
}

const std::vector<TrainOptionSpec>& train_option_specs() {
  using O = TrainOptions;
  static const std::vector<TrainOptionSpec> specs = {
      {"task",
       "st-avqa (question answering) or classify (audio-visual classification on label files: "
       "--train/--val are CSV/AVE lists of video ids and labels)",
       &O::task},
      {"train", "Training annotations (required here or in --config)", &O::train},
      {"val", "Validation annotations, best model by accuracy (required)", &O::val},
      {"cache", "HDF5 feature cache with both splits' videos (not needed with --question-only)",
       &O::cache},
      {"vocab",
       "Vocabulary file from `avqa data vocab` (default: train + val words, the 42 answers)",
       &O::vocab},
      {"tokenizer",
       "SentencePiece model from `avqa data spm-train`: questions as pieces, so any wording can "
       "be asked (default: the original word vocabulary)",
       &O::tokenizer},
      {"tokenizer-max-length", "Pieces per question", &O::tokenizer_max_length, Range::Positive},
      {"duplicates", "Repeated question_ids: error, keep-first, keep-last, keep-all",
       &O::duplicates},
      {"out", "Run folder: checkpoints, metrics.jsonl, run.json (required)", &O::out},
      {"keep-weights",
       "Backbone weight files the cache was extracted with, copied into the run so it answers "
       "new videos on its own (repeat or comma-separate)",
       &O::keep_weights},
      {"fusion", "classify: sum, concat, film or gated", &O::fusion},
      {"classifier-width", "classify: each encoder's width", &O::classifier_width, Range::Positive},
      {"visual-pooling",
       "classify: a segment's visual map to one vector by mean, max or mean-max (both)",
       &O::visual_pooling},
      {"id-column", "classify: the label files' video id column (header name or 0-based index)",
       &O::id_column},
      {"label-column", "classify: the label files' label column", &O::label_column},
      {"epochs", "Epochs", &O::epochs, Range::Positive},
      {"batch", "Batch size", &O::batch, Range::Positive},
      {"optimizer", "adam (the original's), adamw or sgd (the balance papers')", &O::optimizer},
      {"lr", "Learning rate", &O::learning_rate, Range::Positive},
      {"momentum", "SGD momentum", &O::momentum, Range::NonNegative},
      {"weight-decay", "Weight decay (every optimiser)", &O::weight_decay, Range::NonNegative},
      {"lr-step", "StepLR step in epochs", &O::lr_step, Range::Positive},
      {"lr-gamma", "StepLR factor", &O::lr_gamma, Range::Positive},
      {"match-weight", "Weight of the audio-visual match loss", &O::match_weight,
       Range::NonNegative},
      {"grounding-temperature",
       "Spatial attention = softmax(cosine / T); the original's 1 leaves it nearly uniform",
       &O::grounding_temperature, Range::Positive},
      {"centre-patches",
       "Spatial grounding compares the audio with each patch minus its frame's mean patch (the "
       "original: raw patches, which share a large common direction)",
       &O::centre_patches},
      {"position-codes",
       "Add fixed codes of each patch's place to what the spatial attention returns and of each "
       "second's index to what the temporal attentions read (the original's pools are blind to "
       "where and when: 'left', 'first', 'third that comes in' have no basis in them)",
       &O::position_codes},
      {"position-code-scale", "Norm of each position code (--position-codes)",
       &O::position_code_scale, Range::Positive},
      {"question-grounding",
       "A second spatial attention steered by the question (with --position-codes, by where the "
       "patches lie too), added to the audio-steered one (the original: the audio alone)",
       &O::question_grounding},
      {"localization-weight",
       "Weight of the localization ranking: a segment's audio must fit a patch of its own frame "
       "better than any patch of the negative frame (0: the original)",
       &O::localization_weight, Range::NonNegative},
      {"batch-localization-weight",
       "Weight of the localization ranking against the frames of every other video of the batch "
       "at the same segment (InfoNCE; 0: the original)",
       &O::batch_localization_weight, Range::NonNegative},
      {"negatives",
       "Negative frames: other-video (the original), same-video (another second of the same "
       "video where other instruments sound; needs the generated truth) or mixed (a coin per "
       "segment)",
       &O::negatives},
      {"grounding-supervision",
       "none, or truth: DIAGNOSTIC upper bound on generated data, the attention trained towards "
       "the truth boxes of the sounding instruments (not a method: real data has no boxes)",
       &O::grounding_supervision},
      {"grounding-supervision-weight", "Weight of the truth supervision",
       &O::grounding_supervision_weight, Range::NonNegative},
      {"truth",
       "A generated dataset's truth/ folder (default: the one beside the training annotations' "
       "folder)",
       &O::truth},
      {"segments", "Segments the model sees (spread over the cache's)", &O::segments,
       Range::Positive},
      {"heads", "Temporal attention heads", &O::heads, Range::Positive},
      {"seed", "Random seed", &O::seed},
      {"question-only",
       "Zero audio and visual inputs: the question-only baseline (one segment: all would be the "
       "same zeros)",
       &O::question_only},
      {"balance",
       "Balanced multimodal learning: none, ogm, ogm-ge, opm, tpami-ogm, mmpareto, relearn, "
       "valuation-sample, valuation-modality (each method's settings below)",
       &O::method},
      {"robust",
       "Robust training: none; adv (each batch replaced by a PGD attack on all modalities, "
       "--robust-ball); crmt (CRMT: certifiable head, margin regulariser, then the integration "
       "weights trained to enlarge the certified radius); crmt-at (crmt on adv's batches); "
       "crmt-mix (crmt on mixed-up batches, classification only). Composes with --balance",
       &O::robust},
      {"robust-radius", "adv, crmt-at: attack radius, a fraction of each sample's input norm",
       &O::robust_radius, Range::NonNegative},
      {"robust-steps", "adv, crmt-at: PGD steps of radius / 3", &O::robust_steps, Range::Positive},
      {"robust-norm", "adv, crmt-at: attack norm, l2 or linf", &O::robust_norm},
      {"robust-ball",
       "adv, crmt-at: joint (one ball over all modalities, a share of their joint norm) or "
       "per-modality (a ball per modality, a share of its own norm: for inputs of very different "
       "sizes, as ST-AVQA's audio beside its maps)",
       &O::robust_ball},
      {"robust-share",
       "adv, crmt-at: share of each batch's samples trained on their attacked copies (1: all, as "
       "CRMT-AT; 0.5: an even mix with clean ones)",
       &O::robust_share, Range::Positive},
      {"robust-clean-weight",
       "adv, crmt-at: add this weight x the loss on the clean batch (a second forward pass) to the "
       "attacked batch's: every sample learnt clean and attacked (0: attacked only)",
       &O::robust_clean_weight, Range::NonNegative},
      {"robust-modalities",
       "adv, crmt-at: the modalities the training attack perturbs, comma-separated (audio, "
       "visual); the others stay clean (default: all)",
       &O::robust_modalities},
      {"crmt-rho", "CRMT: weight of the margin regulariser", &O::crmt_rho, Range::NonNegative},
      {"crmt-init", "CRMT: the integration weights' initial value (the original's 0.1)",
       &O::crmt_init, Range::Positive},
      {"crmt-epochs", "CRMT: phase 2 epochs (0: epochs / 3 - 1, at least 1)", &O::crmt_epochs,
       Range::NonNegative},
      {"crmt-lr-scale", "CRMT: phase 2 SGD learning rate as a fraction of --lr", &O::crmt_lr_scale,
       Range::Positive},
      {"crmt-weight-decay", "CRMT: phase 2 weight decay", &O::crmt_weight_decay,
       Range::NonNegative},
      {"crmt-lipschitz-samples", "CRMT: training samples the Lipschitz estimate reads",
       &O::crmt_lipschitz_samples, Range::Positive},
      {"ogm-alpha", "OGM/OGM-GE/TPAMI-OGM: alpha of k = 1 - tanh(alpha rho)", &O::ogm_alpha,
       Range::NonNegative},
      {"ogm-first-epoch", "OGM: first modulated epoch (1-based)", &O::ogm_first_epoch,
       Range::Positive},
      {"ogm-last-epoch", "OGM: last modulated epoch", &O::ogm_last_epoch, Range::Positive},
      {"warmup-epochs", "OPM, TPAMI-OGM: epochs before acting; valuation: first valued epoch",
       &O::warmup_epochs, Range::NonNegative},
      {"opm-q-base", "OPM: base drop probability", &O::opm_q_base, Range::NonNegative},
      {"opm-lambda", "OPM: drop probability growth", &O::opm_lambda, Range::NonNegative},
      {"opm-p-exe", "OPM: probability that a step drops", &O::opm_p_exe, Range::NonNegative},
      {"pareto-scale", "MMPareto: gradient magnitude factor", &O::pareto_scale, Range::Positive},
      {"relearn-lambda", "Re-learning: alpha = tanh(lambda x purity gap)", &O::relearn_lambda,
       Range::NonNegative},
      {"relearn-every", "Re-learning: re-initialise after every this many epochs",
       &O::relearn_every, Range::Positive},
      {"relearn-times", "Re-learning: at most this many times", &O::relearn_times,
       Range::NonNegative},
      {"valuation-part-ratio", "Modality valuation: share of samples valued",
       &O::valuation_part_ratio, Range::Positive},
      {"valuation-alpha", "Modality valuation: strength", &O::valuation_alpha, Range::NonNegative},
      {"diagnostics",
       "Per-modality accuracy, linear probes and Shapley contributions each epoch (off: "
       "--diagnostics=false)",
       &O::diagnostics},
      {"resume", "Continue the run in --out where it stopped", &O::resume, Range::Any,
       /*in_config=*/false},
      {"threads", "LibTorch threads (the command line's avqa --threads wins)", &O::threads,
       Range::Positive, /*in_config=*/true, /*on_command_line=*/false},
  };
  return specs;
}

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
  for (const auto& [key, v] : document.items()) {
    const TrainOptionSpec* spec = nullptr;
    for (const auto& s : train_option_specs()) {
      if (s.in_config && s.key() == key) spec = &s;
    }
    auto fail = [&](const std::string& what) {
      throw core::InputError({file.string(), std::nullopt, key}, what);
    };
    if (spec == nullptr)
      fail("is not a train option (see avqa train --help; write flags without '--', '_' for '-')");
    auto as_path = [&](const json& x) {
      if (!x.is_string() || x.get<std::string>().empty()) fail("must be a non-empty path string");
      const fs::path p = x.get<std::string>();
      return p.is_relative() ? folder / p : p;
    };
    std::visit(
        [&](auto member) {
          using T = std::decay_t<decltype(o.*member)>;
          if constexpr (std::is_same_v<T, fs::path>) {
            o.*member = as_path(v);
          } else if constexpr (std::is_same_v<T, std::vector<fs::path>>) {
            if (!v.is_array()) fail("must be an array of path strings");
            for (const auto& x : v)
              (o.*member).push_back(as_path(x));
          } else if constexpr (std::is_same_v<T, std::string>) {
            if (!v.is_string()) fail("must be a string");
            o.*member = v.get<std::string>();
          } else if constexpr (std::is_same_v<T, bool>) {
            if (!v.is_boolean()) fail("must be true or false");
            o.*member = v.get<bool>();
          } else if constexpr (is_choice_v<T>) {
            try {
              o.*member = Choice<T>::parse(v.is_string() ? v.get<std::string>() : "");
            } catch (const std::invalid_argument& e) {
              fail(e.what());
            }
          } else {
            const bool number = std::is_floating_point_v<T> ? v.is_number()
                                : std::is_unsigned_v<T>     ? v.is_number_unsigned()
                                                            : v.is_number_integer();
            const double x = number ? v.get<double>() : 0;
            const char* what = std::is_floating_point_v<T> ? "number" : "integer";
            if (!number || (spec->range == Range::Positive && x <= 0)) {
              fail(std::string("must be a ") + (spec->range == Range::Positive ? "positive " : "") +
                   what +
                   (spec->range == Range::NonNegative || std::is_unsigned_v<T> ? " >= 0" : ""));
            }
            if (spec->range == Range::NonNegative && x < 0)
              fail(std::string("must be a ") + what + " >= 0");
            o.*member = v.get<T>();
          }
        },
        spec->field);
    config.keys.insert(key);
  }
  return config;
}

std::string train_config_json(const TrainOptions& o) {
  json document = json::object();
  for (const auto& spec : train_option_specs()) {
    if (!spec.in_config) continue;
    std::visit(
        [&](auto member) {
          using T = std::decay_t<decltype(o.*member)>;
          const auto absolute = [](const fs::path& p) {
            return fs::absolute(p).lexically_normal().string();
          };
          if constexpr (std::is_same_v<T, fs::path>) {
            // Unset paths are left out rather than written as null: the file loads back as is.
            if (!(o.*member).empty()) document[spec.key()] = absolute(o.*member);
          } else if constexpr (std::is_same_v<T, std::vector<fs::path>>) {
            if ((o.*member).empty()) return;
            json list = json::array();
            for (const auto& p : o.*member)
              list.push_back(absolute(p));
            document[spec.key()] = list;
          } else if constexpr (is_choice_v<T>) {
            document[spec.key()] = Choice<T>::name(o.*member);
          } else if constexpr (std::is_same_v<T, std::string>) {
            if (!(o.*member).empty()) document[spec.key()] = o.*member;
          } else {
            if (spec.range == Range::Positive && o.*member <= 0) return;  // threads unset
            document[spec.key()] = o.*member;
          }
        },
        spec.field);
  }
  return document.dump(2) + "\n";
}

TrainOptions merge_train_options(const TrainConfig& file,
                                 const TrainOptions& flags,
                                 const std::function<bool(const std::string&)>& given) {
  TrainOptions o = file.options;
  for (const auto& spec : train_option_specs()) {
    const bool from_flags = !spec.in_config || (spec.on_command_line && given(spec.name));
    if (!from_flags) continue;
    std::visit([&](auto member) { o.*member = flags.*member; }, spec.field);
  }
  o.progress = flags.progress;
  return o;
}

train::TrainerOptions trainer_options(const TrainOptions& o) {
  train::TrainerOptions t;
  t.out = o.out;
  t.epochs = o.epochs;
  t.batch = o.batch;
  t.optimizer = o.optimizer;
  t.learning_rate = o.learning_rate;
  t.momentum = o.momentum;
  t.weight_decay = o.weight_decay;
  t.lr_step = o.lr_step;
  t.lr_gamma = o.lr_gamma;
  t.seed = o.seed;
  t.resume = o.resume;
  t.progress = o.progress;
  // A question-only run's branches see zeros: nothing per modality to measure.
  t.diagnostics = o.diagnostics && !(o.task == "st-avqa" && o.question_only);
  return t;
}

void validate_train_options(const TrainOptions& o) {
  for (const auto& [name, value] :
       {std::pair{"--train", &o.train}, {"--val", &o.val}, {"--out", &o.out}}) {
    if (value->empty())
      throw std::invalid_argument(std::string(name) +
                                  " is required (on the command line or in --config)");
  }
  if (o.epochs <= 0 || o.batch <= 0 || o.learning_rate <= 0 || o.lr_step <= 0 || o.segments <= 0)
    throw std::invalid_argument(
        "--epochs, --batch, --lr, --lr-step and --segments must be positive");
  if (o.task != "st-avqa" && o.task != "classify")
    throw std::invalid_argument("--task must be st-avqa or classify, not '" + o.task + "'");
  if (o.cache.empty() && !(o.question_only && o.task == "st-avqa"))
    throw std::invalid_argument("--cache is required unless --question-only");
  if (o.grounding_supervision != "none" && o.grounding_supervision != "truth") {
    throw std::invalid_argument("--grounding-supervision must be none or truth, not '" +
                                o.grounding_supervision + "'");
  }
  train::validate_robust_training(o);
  try {
    QaDataset::parse_negatives(o.negatives);  // the one list of names
  } catch (const std::invalid_argument& e) {
    throw std::invalid_argument(std::string("--") + e.what());
  }
}

std::vector<std::shared_ptr<train::Hook>> training_hooks(const TrainOptions& o) {
  std::vector<std::shared_ptr<train::Hook>> hooks = train::make_robust_hooks(o);
  for (auto& hook : train::make_balance_hooks(o))
    hooks.push_back(std::move(hook));
  return hooks;
}

void certify(train::ModalityModel& model,
             const train::TrainingData& train_data,
             const TrainOptions& o,
             const train::TrainerOptions& trainer) {
  const train::CertifiedTrainingReport report =
      train::certify_run(model, train_data, o, trainer, [&](int epoch, double radius) {
        if (o.progress) {
          std::fprintf(stderr, "CRMT phase 2, epoch %d: mean certified radius %.4g\n", epoch,
                       radius);
        }
      });
  if (o.progress) {
    std::fprintf(stderr,
                 "CRMT: Lipschitz constants from %zu training samples, integration weights trained "
                 "%zu epochs; best.pt holds the result (phase 1's: best-phase1.pt)\n",
                 report.lipschitz_samples, report.mean_radius.size());
  }
}

}  // namespace avqa::net
