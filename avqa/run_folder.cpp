#include "avqa/run_folder.h"

#include <map>

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "avqa/original_checkpoint.h"
#include "core/atomic_file.h"
#include "core/checkpoint/torch_checkpoint.h"
#include "core/input_error.h"
#include "core/sha256.h"
#include "datasets/vocabulary.h"

namespace avqa::net {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

// A key of a JSON file, read with errors that name the file and the key (exit 2 in the tools).
class JsonFields {
 public:
  JsonFields(const json& object, fs::path file, std::string prefix = {})
      : object_(object), file_(std::move(file)), prefix_(std::move(prefix)) {
    if (!object_.is_object()) fail("", "must be a JSON object");
  }
  template <typename T>
  T get(const std::string& key) const {
    if (!object_.contains(key)) fail(key, "is missing");
    return convert<T>(key);
  }
  template <typename T>
  T get(const std::string& key, T fallback) const {
    return object_.contains(key) && !object_.at(key).is_null() ? convert<T>(key) : fallback;
  }
  [[noreturn]] void fail(const std::string& key, const std::string& what) const {
    throw core::InputError({file_.string(), std::nullopt, prefix_ + key}, what);
  }

 private:
  template <typename T>
  T convert(const std::string& key) const {
    try {
      return object_.at(key).get<T>();
    } catch (const json::exception&) {
      fail(key, "has the wrong type (" + std::string(object_.at(key).type_name()) + ")");
    }
  }
  const json& object_;
  fs::path file_;
  std::string prefix_;
};

json parse_json_file(const fs::path& file) {
  try {
    return json::parse(data::read_text_file(file));
  } catch (const json::parse_error& e) {
    throw core::InputError({file.string(), std::nullopt, ""}, std::string("not JSON: ") + e.what());
  }
}

json recipe_json(const FeatureRecipe& r) {
  json backbones = json::array();
  for (const auto& b : r.backbones) {
    backbones.push_back({{"modality", b.modality},
                         {"backbone", b.backbone},
                         {"weights", b.weights},
                         {"segment_shape", b.segment_shape}});
  }
  return {{"segments", r.segments},
          {"fps", r.fps},
          {"sample_rate", r.sample_rate},
          {"frame_size", r.frame_size},
          {"normalization", r.normalization},
          {"seed", r.seed},
          {"source", r.source},
          {"backbones", backbones}};
}

FeatureRecipe recipe_of(const json& j, const fs::path& file) {
  const JsonFields f(j, file, "features.");
  FeatureRecipe r;
  r.segments = f.get<int>("segments");
  r.fps = f.get<double>("fps");
  r.sample_rate = f.get<int>("sample_rate");
  r.frame_size = f.get<int>("frame_size");
  r.normalization = f.get<std::string>("normalization", "kinetics");
  r.seed = f.get<std::uint64_t>("seed", 0);
  r.source = f.get<std::string>("source", "");
  if (r.segments <= 0 || r.fps <= 0 || r.frame_size <= 0)
    f.fail("segments", "segments, fps and frame_size must be positive");
  const json backbones = f.get<json>("backbones");
  if (!backbones.is_array()) f.fail("backbones", "must be an array");
  for (std::size_t i = 0; i < backbones.size(); ++i) {
    const JsonFields b(backbones[i], file, "features.backbones[" + std::to_string(i) + "].");
    r.backbones.push_back({b.get<std::string>("modality"), b.get<std::string>("backbone"),
                           b.get<std::string>("weights"),
                           b.get<std::vector<std::uint64_t>>("segment_shape")});
  }
  return r;
}

}  // namespace

FeatureRecipe FeatureRecipe::of_cache(const features::CacheLayout& layout) {
  FeatureRecipe r;
  r.segments = layout.segments;
  r.fps = layout.fps;
  r.sample_rate = layout.sample_rate;
  const auto attribute = [&](const char* key, const std::string& fallback) {
    const auto it = layout.attributes.find(key);
    return it == layout.attributes.end() ? fallback : it->second;
  };
  r.frame_size = std::stoi(attribute("frame_size", "224"));
  r.normalization = attribute("visual_normalization", "kinetics");
  r.seed = std::stoull(attribute("seed", "0"));
  r.source = attribute("tool", "");
  const bool imported = r.source == "avqa import-npy";
  for (const auto& m : layout.modalities) {
    r.backbones.push_back({m.name, m.backbone,
                           imported && m.weights.empty() ? kUnknownWeights : m.weights,
                           m.segment_shape});
  }
  return r;
}

FeatureRecipe FeatureRecipe::original_release() {
  FeatureRecipe r;
  r.source = "the original ST-AVQA release's .npy features";
  r.backbones = {{"audio", "vggish", kUnknownWeights, {128}},
                 {"visual", "resnet18", kUnknownWeights, {512, 14, 14}}};
  return r;
}

std::string FeatureRecipe::sha256_of(const std::string& weights) {
  const auto at = weights.find("sha256:");
  return at == std::string::npos ? std::string() : weights.substr(at + 7);
}

const FeatureRecipe::Backbone* FeatureRecipe::find(const std::string& modality) const {
  for (const auto& b : backbones) {
    if (b.modality == modality) return &b;
  }
  return nullptr;
}

std::vector<int> model_segment_rows(int recorded, int model_segments) {
  if (recorded <= 0 || model_segments <= 0 || model_segments > recorded) {
    throw std::invalid_argument("a model of " + std::to_string(model_segments) +
                                " segments cannot read features of " + std::to_string(recorded));
  }
  std::vector<int> rows;
  for (int k = 0; k < model_segments; ++k)
    rows.push_back(k * recorded / model_segments);
  return rows;
}

RunConfig load_run_config(const fs::path& run) {
  const fs::path file = run / "config.json";
  if (!fs::exists(file)) {
    throw core::InputError({run.string(), std::nullopt, ""},
                           "is not a run folder (no config.json; see avqa train and avqa "
                           "import-checkpoint)");
  }
  const json j = parse_json_file(file);
  const JsonFields f(j, file);
  RunConfig c;
  c.widths.vocab_size = f.get<std::int64_t>("vocab_size");
  c.widths.answers = f.get<std::int64_t>("answers");
  c.widths.audio_dim = f.get<std::int64_t>("audio_dim");
  c.widths.visual_channels = f.get<std::int64_t>("visual_channels");
  c.widths.hidden = f.get<std::int64_t>("hidden", c.widths.hidden);
  c.widths.heads = f.get<std::int64_t>("heads", c.widths.heads);
  // Runs written before the option existed used the original's softmax of plain cosines.
  c.widths.grounding_temperature = f.get<double>("grounding_temperature", 1.0);
  if (!(c.widths.grounding_temperature > 0)) f.fail("grounding_temperature", "must be positive");
  c.widths.centre_patches = f.get<bool>("centre_patches", false);
  c.widths.position_codes = f.get<bool>("position_codes", false);
  c.widths.position_code_scale = f.get<double>("position_code_scale", 1.0);
  if (!(c.widths.position_code_scale > 0)) f.fail("position_code_scale", "must be positive");
  c.widths.question_grounding = f.get<bool>("question_grounding", false);
  c.widths.crmt_head = f.get<bool>("crmt_head", false);
  if (c.widths.vocab_size <= 0 || c.widths.answers <= 0 || c.widths.audio_dim <= 0 ||
      c.widths.visual_channels <= 0 || c.widths.hidden <= 0 || c.widths.heads <= 0 ||
      c.widths.hidden % c.widths.heads != 0) {
    f.fail("", "widths must be positive and heads must divide hidden");
  }
  c.segments = f.get<int>("segments");
  if (c.segments <= 0) f.fail("segments", "must be positive");
  c.question_only = f.get<bool>("question_only", false);
  c.truth_supervised = f.get<bool>("truth_supervised", false);
  const std::string cache = f.get<std::string>("cache", "");
  if (!cache.empty())
    c.cache = fs::path(cache).is_relative() ? (run / cache).lexically_normal() : fs::path(cache);
  if (j.contains("features") && !j.at("features").is_null())
    c.features = recipe_of(j.at("features"), file);
  return c;
}

void save_run_config(const fs::path& run, const RunConfig& c) {
  json j = {{"vocab_size", c.widths.vocab_size},
            {"answers", c.widths.answers},
            {"audio_dim", c.widths.audio_dim},
            {"visual_channels", c.widths.visual_channels},
            {"hidden", c.widths.hidden},
            {"heads", c.widths.heads},
            {"grounding_temperature", c.widths.grounding_temperature},
            {"centre_patches", c.widths.centre_patches},
            {"position_codes", c.widths.position_codes},
            {"position_code_scale", c.widths.position_code_scale},
            {"question_grounding", c.widths.question_grounding},
            {"crmt_head", c.widths.crmt_head},
            {"segments", c.segments},
            {"question_only", c.question_only},
            {"truth_supervised", c.truth_supervised}};
  if (!c.cache.empty()) {
    // Relative to the run, so a run moved together with its cache still finds it.
    j["cache"] = fs::absolute(c.cache)
                     .lexically_normal()
                     .lexically_relative(fs::absolute(run).lexically_normal())
                     .string();
  }
  if (c.features) j["features"] = recipe_json(*c.features);
  core::write_file_atomically(run / "config.json", j.dump(2) + "\n");
}

void save_model_weights(StAvqaNet& net, const fs::path& file) {
  checkpoint::NamedTensors out;
  for (const auto& p : net->named_parameters())
    out.emplace_back(p.key(), p.value());
  checkpoint::write_torch_state_dict(file, out);
}

void load_model_weights(StAvqaNet& net, const fs::path& file) {
  std::map<std::string, torch::Tensor> tensors;
  for (auto& [k, v] : checkpoint::read_torch_state_dict(file))
    tensors[k] = v;
  torch::NoGradGuard no_grad;
  for (auto& p : net->named_parameters()) {
    const auto it = tensors.find(p.key());
    if (it == tensors.end() || it->second.sizes() != p.value().sizes()) {
      throw core::InputError({file.string(), std::nullopt, p.key()},
                             "missing or of another shape than config.json says");
    }
    p.value().copy_(it->second);
  }
}

StAvqaNet load_run_model(const fs::path& run) {
  return load_run_model(run, load_run_config(run));
}

StAvqaNet load_run_model(const fs::path& run, const RunConfig& config) {
  StAvqaNet model(config.widths);
  load_model_weights(model, run / "best.pt");
  model->eval();
  return model;
}

StAvqaNet open_model(const fs::path& run_or_file) {
  if (fs::is_directory(run_or_file)) return load_run_model(run_or_file);
  const checkpoint::NamedTensors tensors = checkpoint::read_torch_state_dict(run_or_file);
  StAvqaNet model(infer_options(tensors, run_or_file));
  load_original_checkpoint(model, tensors, run_or_file);
  model->eval();
  return model;
}

std::vector<fs::path> keep_backbone_weights(const fs::path& run,
                                            const FeatureRecipe& recipe,
                                            const std::vector<fs::path>& files) {
  std::vector<fs::path> kept;
  for (const fs::path& file : files) {
    if (!fs::is_regular_file(file))
      throw core::InputError({file.string(), std::nullopt, ""}, "no such weights file");
    const std::string hash = core::sha256_file(file);
    const FeatureRecipe::Backbone* match = nullptr;
    for (const auto& b : recipe.backbones) {
      if (FeatureRecipe::sha256_of(b.weights) == hash) match = &b;
    }
    if (match == nullptr) {
      std::string recorded;
      for (const auto& b : recipe.backbones)
        recorded += (recorded.empty() ? "" : ", ") + b.modality + ": " + b.weights;
      throw core::InputError({file.string(), std::nullopt, ""},
                             "made none of the run's features (sha256:" + hash +
                                 "; the features were made with " + recorded + ")");
    }
    fs::create_directories(run / "weights");
    const fs::path copy = run / "weights" / (match->modality + "-" + hash.substr(0, 16) + ".pt");
    // The name holds the hash: a copy already there (a resumed run) is the same file.
    if (!fs::exists(copy)) core::write_file_atomically(copy, data::read_text_file(file));
    kept.push_back(copy);
  }
  return kept;
}

std::optional<fs::path> kept_backbone_weights(const fs::path& run,
                                              const FeatureRecipe::Backbone& backbone) {
  const std::string hash = FeatureRecipe::sha256_of(backbone.weights);
  if (hash.size() < 16) return std::nullopt;
  const fs::path copy = run / "weights" / (backbone.modality + "-" + hash.substr(0, 16) + ".pt");
  if (!fs::exists(copy)) return std::nullopt;
  return copy;
}

ImportReport import_original_run(const ImportOptions& o) {
  if (o.train_annotations.empty() == o.vocab.empty()) {
    throw std::invalid_argument(
        "give the training annotations the checkpoint was trained on (its vocabularies are "
        "built from them) or a vocabulary file, one of the two");
  }
  if (fs::exists(o.out / "config.json") || fs::exists(o.out / "state.json")) {
    throw core::InputError({o.out.string(), std::nullopt, ""},
                           "holds a run already; choose another folder");
  }
  const checkpoint::NamedTensors tensors = checkpoint::read_torch_state_dict(o.checkpoint);
  RunConfig config;
  config.widths = infer_options(tensors, o.checkpoint);
  config.segments = o.segments;
  config.features = o.features ? *o.features : FeatureRecipe::original_release();

  data::Vocabularies vocab;
  if (!o.vocab.empty()) {
    vocab = data::load_vocabularies(o.vocab);
  } else {
    // dataloader_avst.py: the training file alone, every record (repeated ids too), words and
    // answers each in order of first appearance.
    const data::AnnotationSet train =
        data::load_annotations(o.train_annotations, {data::DuplicatePolicy::KeepAll});
    vocab.words = data::WordVocabulary::build({train});
    vocab.answers = data::AnswerVocabulary::build({train});
    vocab.built_from = {fs::absolute(o.train_annotations).lexically_normal().string()};
  }
  const auto rows = data::question_vocabulary_size(vocab);
  if (rows > config.widths.vocab_size) {
    throw core::InputError(
        {o.checkpoint.string(), std::nullopt, "question_encoder.word2vec.weight"},
        "has " + std::to_string(config.widths.vocab_size) + " word rows, but the vocabulary has " +
            std::to_string(rows) + " words: it was not trained on these annotations");
  }
  const auto named = static_cast<std::int64_t>(vocab.answers.size());
  if (named > config.widths.answers) {
    throw core::InputError({o.checkpoint.string(), std::nullopt, "fc_ans.weight"},
                           "answers " + std::to_string(config.widths.answers) +
                               " classes, the vocabulary names " + std::to_string(named));
  }
  if (named < config.widths.answers) {
    // The original's head is 42 wide whatever its training file holds; the classes the file
    // never names still get logits, so they get names too.
    std::vector<std::string> answers = vocab.answers.answers();
    for (auto k = named; k < config.widths.answers; ++k)
      answers.push_back("<unused-" + std::to_string(k) + ">");
    vocab.answers = data::AnswerVocabulary(answers);
  }

  StAvqaNet model(config.widths);
  const CheckpointImport loaded = load_original_checkpoint(model, tensors, o.checkpoint);
  fs::create_directories(o.out);
  save_model_weights(model, o.out / "best.pt");
  data::save_vocabularies(vocab, o.out / "vocab.json");
  save_run_config(o.out, config);  // last: its presence marks a complete run folder

  ImportReport report;
  report.tensors = loaded.loaded.size();
  report.unused = loaded.unused;
  report.words = vocab.words.size();
  report.answers = static_cast<std::size_t>(named);
  report.widths = config.widths;
  return report;
}

}  // namespace avqa::net
