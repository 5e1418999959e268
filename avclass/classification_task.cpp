#include "avclass/classification_task.h"

#include <algorithm>
#include <cstdio>

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "avqa/run_folder.h"
#include "avqa/train_options.h"
#include "core/atomic_file.h"
#include "core/input_error.h"
#include "core/train/balance.h"
#include "datasets/features/feature_cache.h"

namespace avqa::avclass {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

}  // namespace

VisualPooling parse_visual_pooling(const std::string& name) {
  if (name == "mean") return VisualPooling::Mean;
  if (name == "max") return VisualPooling::Max;
  if (name == "mean-max") return VisualPooling::MeanMax;
  throw std::invalid_argument("--visual-pooling must be mean, max or mean-max, not '" + name + "'");
}

const char* to_string(VisualPooling pooling) {
  switch (pooling) {
    case VisualPooling::Mean:
      return "mean";
    case VisualPooling::Max:
      return "max";
    case VisualPooling::MeanMax:
      return "mean-max";
  }
  return "?";
}

ClassificationData::ClassificationData(const std::vector<LabelledVideo>& videos,
                                       const std::vector<std::string>& classes,
                                       const features::FeatureCacheReader& cache,
                                       const fs::path& label_file,
                                       int segments,
                                       VisualPooling pooling) {
  const features::CacheLayout& layout = cache.layout();
  if (segments <= 0 || segments > layout.segments) {
    throw std::invalid_argument("--segments must be in 1.." + std::to_string(layout.segments) +
                                " (the cache's segments)");
  }
  const std::vector<int> rows = net::model_segment_rows(layout.segments, segments);
  std::int64_t audio_dim = 0, visual_dim = 0;
  for (const auto& m : layout.modalities) {
    if (m.name == "audio" && m.segment_shape.size() == 1)
      audio_dim = static_cast<std::int64_t>(m.segment_shape[0]);
    if (m.name == "visual" && !m.segment_shape.empty())
      visual_dim = static_cast<std::int64_t>(m.segment_shape[0]);
  }
  if (audio_dim == 0 || visual_dim == 0)
    throw std::invalid_argument("the feature cache needs audio [A] and visual [C, ...] features");
  const auto n = static_cast<std::int64_t>(videos.size());
  const auto t = static_cast<std::int64_t>(rows.size());
  const std::int64_t channels = visual_dim;
  if (pooling == VisualPooling::MeanMax) visual_dim *= 2;
  audio_ = torch::empty({n, t, audio_dim});
  visual_ = torch::empty({n, t, visual_dim});
  labels_ = torch::empty({n}, torch::kLong);
  for (std::int64_t i = 0; i < n; ++i) {
    const LabelledVideo& v = videos[static_cast<std::size_t>(i)];
    const auto index = cache.find(v.video_id);
    if (!index) {
      throw core::InputError({label_file.string(), static_cast<std::size_t>(i), "video_id"},
                             "'" + v.video_id + "' is not in the feature cache");
    }
    const auto label = std::find(classes.begin(), classes.end(), v.label);
    if (label == classes.end()) {
      throw core::InputError({label_file.string(), static_cast<std::size_t>(i), "label"},
                             "'" + v.label + "' is not one of the run's classes");
    }
    labels_[i] = static_cast<std::int64_t>(label - classes.begin());
    const auto audio = cache.read("audio", *index, rows);
    std::copy(audio.begin(), audio.end(), audio_[i].data_ptr<float>());
    const auto visual = cache.read("visual", *index, rows);  // [T, C, H, W]: pooled over H, W
    const auto cells = static_cast<std::int64_t>(visual.size()) / (t * channels);
    const auto map = torch::from_blob(const_cast<float*>(visual.data()), {t, channels, cells});
    switch (pooling) {
      case VisualPooling::Mean:
        visual_[i] = map.mean(2);
        break;
      case VisualPooling::Max:
        visual_[i] = std::get<0>(map.max(2));
        break;
      case VisualPooling::MeanMax:
        visual_[i] = torch::cat({map.mean(2), std::get<0>(map.max(2))}, 1);
        break;
    }
  }
}

train::Batch ClassificationData::load(const std::vector<std::size_t>& indices,
                                      bool,
                                      std::uint64_t) const {
  std::vector<std::int64_t> rows(indices.begin(), indices.end());
  const auto index = torch::tensor(rows, torch::kLong);
  train::Batch b;
  b.inputs = {audio_.index_select(0, index), visual_.index_select(0, index)};
  b.labels = labels_.index_select(0, index);
  b.indices = indices;
  return b;
}

bool is_classification_run(const fs::path& run) {
  std::error_code ec;
  if (!fs::exists(run / "config.json", ec)) return false;
  const json config = json::parse(core::read_text_file(run / "config.json"), nullptr, false);
  return config.is_object() && config.value("task", "") == "classify";
}

ClassifierRunConfig load_classifier_config(const fs::path& run) {
  const fs::path file = run / "config.json";
  const json c = json::parse(core::read_text_file(file), nullptr, false);
  const auto fail = [&](const std::string& key, const std::string& what) {
    throw core::InputError({file.string(), std::nullopt, key}, what);
  };
  if (!c.is_object()) fail("", "not a JSON object");
  ClassifierRunConfig out;
  try {
    out.widths.audio_dim = c.at("audio_dim").get<std::int64_t>();
    out.widths.visual_dim = c.at("visual_dim").get<std::int64_t>();
    out.widths.hidden = c.at("classifier_width").get<std::int64_t>();
    // A named option that does not parse: the error names its key.
    const auto named = [&](const char* key, auto parse) {
      try {
        return parse(c.at(key).get<std::string>());
      } catch (const std::invalid_argument& e) {
        throw core::InputError({file.string(), std::nullopt, key}, e.what());
      }
    };
    out.widths.fusion = named("fusion", parse_fusion);
    out.segments = c.at("segments").get<int>();
    out.widths.input_norm = c.value("input_norm", false);
    if (c.contains("visual_pooling"))
      out.visual_pooling = named("visual_pooling", parse_visual_pooling);
    out.classes = c.at("classes").get<std::vector<std::string>>();
    out.widths.classes = static_cast<std::int64_t>(out.classes.size());
    if (c.contains("cache")) out.cache = run / c.at("cache").get<std::string>();
  } catch (const json::exception& e) {
    fail("", std::string("a classification run's config: ") + e.what());
  }
  return out;
}

train::FitReport train_classifier(const net::TrainOptions& o) {
  net::validate_train_options(o);
  const VisualPooling pooling = parse_visual_pooling(o.visual_pooling);
  Fusion fusion = parse_fusion(o.fusion);
  if (o.certified()) {  // CRMT replaces the concatenation head by its own
    if (fusion != Fusion::Concat && fusion != Fusion::Crmt) {
      throw std::invalid_argument("--robust " + o.robust +
                                  " trains CRMT's head on the concatenated features: --fusion " +
                                  o.fusion + " cannot be used with it (concat or crmt)");
    }
    fusion = Fusion::Crmt;
  }
  LabelFileOptions label_options{o.id_column, o.label_column};
  const auto train_videos = load_labelled_videos(o.train, label_options);
  const auto val_videos = load_labelled_videos(o.val, label_options);
  fs::create_directories(o.out);
  if (!o.resume && fs::exists(o.out / "state.json")) {
    throw core::InputError({o.out.string(), std::nullopt, ""},
                           "holds a run already; pass --resume or choose another folder");
  }
  ClassifierRunConfig config;
  if (o.resume && fs::exists(o.out / "config.json")) {
    config = load_classifier_config(o.out);
  } else {
    config.classes = class_names({train_videos, val_videos});
    config.visual_pooling = pooling;
  }
  const features::FeatureCacheReader cache(o.cache);
  config.segments = std::min(o.segments, cache.layout().segments);
  const ClassificationData train_data(train_videos, config.classes, cache, o.train, config.segments,
                                      config.visual_pooling);
  const ClassificationData val_data(val_videos, config.classes, cache, o.val, config.segments,
                                    config.visual_pooling);
  config.widths.audio_dim = train_data.audio_dim();
  config.widths.visual_dim = train_data.visual_dim();
  config.widths.hidden = o.classifier_width;
  config.widths.fusion = fusion;
  config.widths.crmt_init = o.crmt_init;
  config.widths.classes = static_cast<std::int64_t>(config.classes.size());
  core::write_file_atomically(o.out / "run.json", net::train_config_json(o));
  const json document = {
      {"task", "classify"},
      {"fusion", to_string(config.widths.fusion)},
      {"classifier_width", config.widths.hidden},
      {"audio_dim", config.widths.audio_dim},
      {"visual_dim", config.widths.visual_dim},
      {"segments", config.segments},
      {"visual_pooling", to_string(config.visual_pooling)},
      {"input_norm", config.widths.input_norm},
      {"classes", config.classes},
      {"cache", fs::relative(fs::absolute(o.cache), fs::absolute(o.out)).string()}};
  core::write_file_atomically(o.out / "config.json", document.dump(2) + "\n");

  torch::manual_seed(static_cast<std::int64_t>(o.seed));
  LateFusionClassifier model(config.widths);
  const train::TrainerOptions t = net::trainer_options(o);
  train::FitReport report = train::fit(model, train_data, val_data, t, net::training_hooks(o));
  if (o.certified()) net::certify(model, train_data, o, t);
  return report;
}

namespace {

/// The videos of `labels` as a run reads them, from `cache_file` or the run's training cache.
ClassificationData open_split(const ClassifierRunConfig& config,
                              const fs::path& run,
                              const fs::path& labels,
                              const fs::path& cache_file,
                              const LabelFileOptions& label_options) {
  const fs::path cache_path = cache_file.empty() ? config.cache : cache_file;
  if (cache_path.empty())
    throw core::InputError({(run / "config.json").string(), std::nullopt, "cache"},
                           "names no feature cache: pass --cache");
  const features::FeatureCacheReader cache(cache_path);
  const auto videos = load_labelled_videos(labels, label_options);
  return ClassificationData(videos, config.classes, cache, labels, config.segments,
                            config.visual_pooling);
}

}  // namespace

train::RobustReport robust_evaluate_classifier(
    const fs::path& run,
    const fs::path& labels,
    const fs::path& cache,
    const train::RobustEvalOptions& options,
    const std::function<void(const std::string&)>& progress,
    const LabelFileOptions& label_options) {
  const ClassifierRunConfig config = load_classifier_config(run);
  const ClassificationData data = open_split(config, run, labels, cache, label_options);
  if (data.size() == 0)
    throw core::InputError({labels.string(), std::nullopt, ""}, "holds no videos");
  LateFusionClassifier model(config.widths);
  model.load(run / "best.pt");
  train::RobustEvalOptions o = options;
  o.lipschitz = train::run_lipschitz(run);
  return train::robust_evaluate(model, data, o, progress);
}

ClassificationEvaluation evaluate_classifier(const fs::path& run,
                                             const fs::path& labels,
                                             const fs::path& cache_file,
                                             const LabelFileOptions& label_options) {
  const ClassifierRunConfig config = load_classifier_config(run);
  const ClassificationData data = open_split(config, run, labels, cache_file, label_options);
  LateFusionClassifier model(config.widths);
  model.load(run / "best.pt");
  const train::Validation v = train::validate(model, data, 64, true);
  ClassificationEvaluation out;
  out.videos = data.size();
  out.fused = train::classification_scores(v.predictions, v.labels,
                                           static_cast<std::int64_t>(config.classes.size()));
  out.modalities = model.modalities();
  out.unimodal_accuracy = v.unimodal_accuracy;
  out.contribution = v.contribution;
  for (std::int64_t i = 0; i < v.predictions.size(0); ++i)
    out.predictions.push_back(
        config.classes.at(static_cast<std::size_t>(v.predictions[i].item<std::int64_t>())));
  return out;
}

std::string format_classification_report(const ClassificationEvaluation& e) {
  char line[200];
  std::snprintf(line, sizeof line, "%zu videos: accuracy %.2f%%, macro-F1 %.2f%%\n", e.videos,
                100 * e.fused.accuracy, 100 * e.fused.macro_f1);
  std::string out = line;
  for (std::size_t m = 0; m < e.modalities.size(); ++m) {
    std::snprintf(line, sizeof line, "  %-7s alone %.2f%%, contribution %.3f\n",
                  e.modalities[m].c_str(), 100 * e.unimodal_accuracy.at(m), e.contribution.at(m));
    out += line;
  }
  return out;
}

std::string classification_report_json(const ClassificationEvaluation& e) {
  json per = json::object();
  for (std::size_t m = 0; m < e.modalities.size(); ++m) {
    per[e.modalities[m]] = {{"unimodal_accuracy", e.unimodal_accuracy.at(m)},
                            {"contribution", e.contribution.at(m)}};
  }
  return json{{"videos", e.videos},
              {"accuracy", e.fused.accuracy},
              {"macro_f1", e.fused.macro_f1},
              {"modalities", per}}
             .dump(2) +
         "\n";
}

}  // namespace avqa::avclass
