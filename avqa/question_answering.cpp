#include "avqa/question_answering.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <random>
#include <type_traits>

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "avqa/run_folder.h"
#include "avqa/st_avqa_net.h"
#include "core/input_error.h"
#include "core/train/perturbation.h"
#include "datasets/features/extractor.h"
#include "datasets/features/feature_cache.h"
#include "datasets/question_text.h"
#include "datasets/sentence_piece.h"
#include "datasets/vocabulary.h"

namespace avqa::net {
namespace {

namespace fs = std::filesystem;

// The weights to extract `b` with: the user's, else the run's kept copy, else none (a backbone
// recorded as randomly initialised is rebuilt from the recorded seed).
fs::path weights_for(const VideoAnswerer::Options& o, const FeatureRecipe::Backbone& b) {
  const fs::path& given = b.modality == "visual" ? o.visual_weights : o.audio_weights;
  if (!given.empty()) return given;
  if (const auto kept = kept_backbone_weights(o.run, b)) return *kept;
  if (b.weights == "random-init" || b.backbone.rfind("torchscript:", 0) == 0) return {};
  throw core::InputError({(o.run / "config.json").string(), std::nullopt, "features.backbones"},
                         "the run's " + b.modality + " features were extracted with " + b.weights +
                             "; pass that file with --" + b.modality +
                             "-weights (or keep it in the run: avqa train --keep-weights)");
}

}  // namespace

struct VideoAnswerer::Impl {
  Options options;
  RunConfig config;
  data::Vocabularies vocab;
  mutable StAvqaNet model{
      nullptr};  // torch modules have no const forward; answering changes nothing
  std::unique_ptr<features::ClipFeatureExtractor> extractor;  // null for question-only runs
  features::ExtractOptions extract_options;
  std::vector<std::string> notes;

  // Rows `segments` of the extracted `name` features, shaped [1, T, shape...].
  torch::Tensor pick(const features::VideoFeatures& features,
                     const std::string& name,
                     const std::vector<int>& segments,
                     std::vector<std::int64_t> shape) const {
    const FeatureRecipe& recipe = *config.features;
    const auto& all = features.modalities.at(name);
    const auto per_segment = static_cast<std::int64_t>(all.size()) / recipe.segments;
    auto full = torch::from_blob(const_cast<float*>(all.data()), {recipe.segments, per_segment},
                                 torch::kFloat32);
    auto chosen = full.index_select(
        0, torch::tensor(std::vector<std::int64_t>(segments.begin(), segments.end())));
    shape.insert(shape.begin(), {1, config.segments});
    return chosen.reshape(shape).clone();
  }

  // Extracts `only` (empty: every modality) of `clip` into `video`'s inputs.
  void extract_into(PreparedVideo& video,
                    const media::SampledClip& clip,
                    const std::vector<std::string>& only) const {
    const features::VideoFeatures features = extractor->extract(clip, only);
    const auto wants = [&](const char* name) {
      return only.empty() || std::find(only.begin(), only.end(), name) != only.end();
    };
    // A question-only run shows the frames but answers from zeros.
    const auto seen = [&](torch::Tensor t) { return config.question_only ? t.zero_() : t; };
    const auto& shape = config.features->find("visual")->segment_shape;
    if (wants("audio"))
      video.audio = seen(pick(features, "audio", video.segments, {config.widths.audio_dim}));
    if (wants("visual")) {
      video.visual =
          seen(pick(features, "visual", video.segments,
                    {static_cast<std::int64_t>(shape[0]), static_cast<std::int64_t>(shape[1]),
                     static_cast<std::int64_t>(shape[2])}));
    }
  }
};

VideoAnswerer::VideoAnswerer(const Options& o) : impl_(std::make_unique<Impl>()) {
  Impl& m = *impl_;
  m.options = o;
  m.config = load_run_config(o.run);
  m.vocab = data::load_vocabularies(o.run / "vocab.json");
  m.model = load_run_model(o.run, m.config);
  m.model->eval();
  if (!m.config.features) {
    if (!m.config.question_only) {
      throw core::InputError({(o.run / "config.json").string(), std::nullopt, "features"},
                             "is missing: the run does not say how its features were extracted");
    }
    return;
  }
  const FeatureRecipe& recipe = *m.config.features;
  const auto* visual_backbone = recipe.find("visual");
  const auto* audio_backbone = recipe.find("audio");
  if (visual_backbone == nullptr || audio_backbone == nullptr ||
      visual_backbone->segment_shape.size() != 3) {
    throw core::InputError({(o.run / "config.json").string(), std::nullopt, "features.backbones"},
                           "must name an audio backbone and a visual one of [C, H, W] maps");
  }
  // The same sampling, backbones and weights as the features the run learnt from.
  features::ExtractOptions& x = m.extract_options;
  x.visual = visual_backbone->backbone;
  x.audio = audio_backbone->backbone;
  x.visual_weights = weights_for(o, *visual_backbone);
  x.audio_weights = weights_for(o, *audio_backbone);
  x.normalization = features::parse_normalization(recipe.normalization);
  x.seed = recipe.seed;
  x.sampling.segments = recipe.segments;
  x.sampling.fps = recipe.fps;
  x.sampling.sample_rate = recipe.sample_rate;
  x.sampling.frame_size = recipe.frame_size;
  m.extractor = std::make_unique<features::ClipFeatureExtractor>(x);
  for (const auto& made : m.extractor->modalities()) {
    const auto* recorded = recipe.find(made.name);
    if (recorded == nullptr) continue;
    if (recorded->weights == FeatureRecipe::kUnknownWeights) {
      m.notes.push_back("the run's " + made.name +
                        " features recorded no weights; unchecked: " + made.weights);
    } else if (FeatureRecipe::sha256_of(recorded->weights) !=
                   FeatureRecipe::sha256_of(made.weights) ||
               (FeatureRecipe::sha256_of(made.weights).empty() &&
                recorded->weights != made.weights)) {
      const fs::path& given = made.name == "visual" ? o.visual_weights : o.audio_weights;
      throw core::InputError({given.empty() ? (o.run / "weights").string() : given.string(),
                              std::nullopt, made.name + "_weights"},
                             "the run was trained on " + made.name + " features of " +
                                 recorded->weights + ", not " + made.weights +
                                 "; pass the same weights (--" + made.name + "-weights)");
    }
  }
}

VideoAnswerer::~VideoAnswerer() = default;

const RunConfig& VideoAnswerer::config() const {
  return impl_->config;
}

const data::Vocabularies& VideoAnswerer::vocabulary() const {
  return impl_->vocab;
}

const std::vector<std::string>& VideoAnswerer::notes() const {
  return impl_->notes;
}

EncodedQuestion VideoAnswerer::encode(const std::string& question,
                                      const std::vector<std::string>& values) const {
  const data::Vocabularies& vocab = impl_->vocab;
  EncodedQuestion q;
  // The question as the original reads it: placeholders filled, last character dropped.
  try {
    q.words = data::question_words(question, values);
  } catch (const std::invalid_argument& e) {
    throw core::InputError({"--question", std::nullopt, ""}, e.what());
  }
  try {
    if (vocab.pieces) {  // show the user how the question falls apart into pieces
      q.pieces = data::SentencePieceModel(vocab.pieces->model, vocab.pieces->size)
                     .pieces({data::question_sentence(q.words)})
                     .front();
    }
    q.ids = data::encode_question(q.words, vocab);
  } catch (const std::invalid_argument& e) {
    throw core::InputError(
        {"--question", std::nullopt, ""},
        std::string(e.what()) +
            (vocab.pieces
                 ? std::string()
                 : "; the run knows the words of its training questions (a run trained with "
                   "--tokenizer, see avqa data spm-train, reads any wording)"));
  }
  return q;
}

PreparedVideo VideoAnswerer::prepare(const fs::path& path,
                                     const ModalityEdit& edit,
                                     const PrepareProgress& progress) const {
  const Impl& m = *impl_;
  const auto report = [&](double fraction, const std::string& stage) {
    if (progress && !progress(fraction, stage)) throw PreparationCancelled();
  };
  PreparedVideo video;
  video.path = path;
  video.edit = edit;
  const StAvqaOptions& widths = m.config.widths;
  if (!m.extractor) {  // question-only, no recipe: zeros stand for the media
    video.grid = 1;
    for (int k = 0; k < m.config.segments; ++k) {
      video.segments.push_back(k);
      video.segment_seconds.push_back(k);
    }
    video.audio = torch::zeros({1, m.config.segments, widths.audio_dim});
    video.visual = torch::zeros({1, m.config.segments, widths.visual_channels, 1, 1});
    report(1.0, "done");
    return video;
  }
  const FeatureRecipe& recipe = *m.config.features;
  report(0.0, "decoding");
  video.clip = media::sample_clip(path, m.extract_options.sampling);
  video.segments = model_segment_rows(recipe.segments, m.config.segments);
  for (const int row : video.segments)
    video.segment_seconds.push_back(recipe.seconds_of(row));
  video.grid = static_cast<int>(recipe.find("visual")->segment_shape[1]);
  const bool edited = edit.audio_changed() || edit.visual_changed();
  const media::SampledClip changed = edited ? edited_clip(video.clip, edit) : media::SampledClip{};
  const media::SampledClip& seen = edited ? changed : video.clip;
  report(0.3, "visual backbone");
  m.extract_into(video, seen, {"visual"});
  report(0.7, "audio backbone");
  m.extract_into(video, seen, {"audio"});
  report(1.0, "done");
  return video;
}

media::SampledClip edited_clip(media::SampledClip clip, const ModalityEdit& edit) {
  // The training core's corruptions (core/train/perturbation.h), applied to the clip as one
  // sample of one modality: the studio's toggles and `avqa robust-eval` mean the same thing by
  // "missing" and "noise at an SNR" (here relative to the clip's own mean power; a silent clip
  // stays silent: it has no signal to compare against).
  const auto edit_one = [](auto& values, const train::Corruption& c, std::uint64_t seed) {
    using Value = typename std::remove_reference_t<decltype(values)>::value_type;
    if (values.empty()) return;
    const auto dtype = std::is_same_v<Value, float> ? torch::kFloat : torch::kUInt8;
    train::Batch b;
    b.inputs = {
        torch::from_blob(values.data(), {1, static_cast<std::int64_t>(values.size())}, dtype)
            .clone()};
    b.labels = torch::zeros({1}, torch::kLong);
    at::Tensor out = train::corrupt(b, c, seed).inputs[0];
    if constexpr (std::is_same_v<Value, float>) out = out.clamp(-1.0, 1.0);  // a waveform's range
    out = out.contiguous();
    std::copy_n(out.data_ptr<Value>(), values.size(), values.begin());
  };
  if (edit.blank_video) edit_one(clip.frames, {train::CorruptionKind::Zeros, 0, 0, {}}, 0);
  if (edit.mute_audio) {
    edit_one(clip.audio, {train::CorruptionKind::Zeros, 0, 0, {}}, 0);
  } else if (edit.noise_snr_db) {
    edit_one(clip.audio, {train::CorruptionKind::Noise, 0, *edit.noise_snr_db, {}},
             edit.noise_seed);
  }
  return clip;
}

PreparedVideo VideoAnswerer::edited(const PreparedVideo& video, const ModalityEdit& edit) const {
  const Impl& m = *impl_;
  PreparedVideo out = video;
  out.edit = edit;
  if (!m.extractor) return out;
  std::vector<std::string> redo;
  const ModalityEdit& was = video.edit;
  if (edit.visual_changed() != was.visual_changed()) redo.push_back("visual");
  if (edit.mute_audio != was.mute_audio || edit.noise_snr_db != was.noise_snr_db ||
      (edit.noise_snr_db && edit.noise_seed != was.noise_seed))
    redo.push_back("audio");
  if (redo.empty()) return out;
  m.extract_into(out, edited_clip(video.clip, edit), redo);
  return out;
}

AskResult VideoAnswerer::answer(const PreparedVideo& video, const EncodedQuestion& q) const {
  const Impl& m = *impl_;
  AskResult result;
  result.words = q.words;
  result.pieces = q.pieces;
  result.grid = video.grid;
  result.segments = video.segments;
  result.segment_seconds = video.segment_seconds;
  result.clip = video.clip;
  result.notes = m.notes;
  torch::NoGradGuard no_grad;
  const StAvqaOutput out =
      m.model->forward(video.audio, video.visual, torch::tensor(q.ids).unsqueeze(0));
  const auto probabilities = torch::softmax(out.logits[0], 0);
  const auto [values, top] = probabilities.topk(std::min<std::int64_t>(5, probabilities.size(0)));
  for (std::int64_t j = 0; j < top.size(0); ++j) {
    result.top5.emplace_back(m.vocab.answers.answer(top[j].item<std::int64_t>()),
                             values[j].item<float>());
  }
  result.answer = result.top5.front().first;
  result.spatial_attention = out.spatial_attention[0];
  result.temporal_visual = out.temporal_visual[0];
  result.temporal_audio = out.temporal_audio[0];
  // Each branch's share of this answer: the answer's probability with a branch's fused features
  // zeroed (the training core's uni-modal answers), as a two-player Shapley value.
  const auto answer_index = top[0].item<std::int64_t>();
  const auto probability = [&](bool audio, bool visual) {
    const auto a = audio ? out.audio_features : torch::zeros_like(out.audio_features);
    const auto v = visual ? out.visual_features : torch::zeros_like(out.visual_features);
    return torch::softmax(m.model->answer(a, v, out.question_features)[0], 0)[answer_index]
        .item<double>();
  };
  ModalityContribution& c = result.contribution;
  c.both = probabilities[answer_index].item<double>();
  c.audio_only = probability(true, false);
  c.visual_only = probability(false, true);
  c.neither = probability(false, false);
  c.audio = 0.5 * ((c.audio_only - c.neither) + (c.both - c.visual_only));
  c.visual = 0.5 * ((c.visual_only - c.neither) + (c.both - c.audio_only));
  return result;
}

namespace {

/// The run's network over the backbones' inputs of one prepared video, as the training core's
/// attacks see a model: inputs {log-mel examples [1, S, 1, 96, 64], frames [1, S, 3, F, F]} of
/// the clip's S segments, the model's T of them picked after the backbones.
class DecodedVideoModel : public train::ModalityModel {
 public:
  DecodedVideoModel(StAvqaNet net,
                    features::ClipFeatureExtractor& extractor,
                    std::vector<int> segments,
                    std::vector<std::int64_t> visual_shape,
                    at::Tensor question)
      : net_(std::move(net)),
        extractor_(extractor),
        segments_(torch::tensor(std::vector<std::int64_t>(segments.begin(), segments.end()))),
        visual_shape_(std::move(visual_shape)),
        question_(std::move(question)) {}

  std::vector<std::string> modalities() const override { return {"audio", "visual"}; }
  std::vector<at::Tensor> parameters() override { return net_->parameters(); }
  std::vector<at::Tensor> encoder_parameters(std::size_t) override { return {}; }
  void set_training(bool) override { net_->eval(); }  // answering only
  /// The model's inputs [1, T, ...] of backbone inputs (autograd kept).
  std::pair<at::Tensor, at::Tensor> features(const train::Batch& b) {
    const at::Tensor audio = extractor_.features_of("audio", b.inputs.at(0)[0]);
    std::vector<std::int64_t> shape{1, segments_.size(0)};
    shape.insert(shape.end(), visual_shape_.begin(), visual_shape_.end());
    const at::Tensor visual = extractor_.features_of("visual", b.inputs.at(1)[0]);
    return {audio.index_select(0, segments_).unsqueeze(0),
            visual.index_select(0, segments_).reshape(shape)};
  }
  train::Encoded encode(const train::Batch& b) override {
    const auto [audio, visual] = features(b);
    const StAvqaOutput out = net_->encode(audio, visual, question_);
    return {{out.audio_features, out.visual_features}, {out.question_features}};
  }
  at::Tensor fuse(const train::Encoded& e) override {
    return net_->answer(e.features.at(0), e.features.at(1), e.state.at(0));
  }
  void save(const fs::path&) override { throw std::logic_error("DecodedVideoModel: no saving"); }
  void load(const fs::path&) override { throw std::logic_error("DecodedVideoModel: no loading"); }

 private:
  StAvqaNet net_;
  features::ClipFeatureExtractor& extractor_;
  at::Tensor segments_;
  std::vector<std::int64_t> visual_shape_;
  at::Tensor question_;
};

}  // namespace

AskResult VideoAnswerer::answer_under_attack(const PreparedVideo& video,
                                             const EncodedQuestion& q,
                                             const VideoAttack& a) const {
  const Impl& m = *impl_;
  if (a.modality != "audio" && a.modality != "visual")
    throw std::invalid_argument("--attack: unknown modality '" + a.modality + "' (audio, visual)");
  if (!(a.radius >= 0) || a.steps < 1)
    throw std::invalid_argument("--attack-radius must be >= 0 and --attack-steps at least 1");
  if (!m.extractor || m.config.question_only || video.clip.frames.empty()) {
    throw core::InputError(
        {(m.options.run / "config.json").string(), std::nullopt, "question_only"},
        "a question-only run reads no video: nothing to attack");
  }
  const AskResult clean = answer(video, q);
  const auto inputs = m.extractor->backbone_inputs(edited_clip(video.clip, video.edit));
  const auto& shape = m.config.features->find("visual")->segment_shape;
  DecodedVideoModel model(m.model, *m.extractor, video.segments,
                          {static_cast<std::int64_t>(shape[0]), static_cast<std::int64_t>(shape[1]),
                           static_cast<std::int64_t>(shape[2])},
                          torch::tensor(q.ids).unsqueeze(0));
  train::Batch batch;
  batch.inputs = {inputs.at("audio").unsqueeze(0), inputs.at("visual").unsqueeze(0)};
  batch.labels = torch::tensor({m.vocab.answers.index(clean.answer)}, torch::kLong);
  train::AttackOptions o;
  const std::size_t attacked_modality = a.modality == "audio" ? 0 : 1;
  o.modalities = {attacked_modality};
  o.radius = a.radius;
  o.steps = a.steps;
  o.relative = true;
  train::Batch attacked = train::attack(model, batch, o);
  // Back into the pixels a screen can show: each coordinate moves towards the clean input, which
  // lies inside the box, so the perturbation stays inside the ball.
  if (const auto range = m.extractor->input_range(a.modality)) {
    auto& x = attacked.inputs[attacked_modality];
    x = torch::max(torch::min(x, range->second.unsqueeze(0)), range->first.unsqueeze(0));
  }
  PreparedVideo moved = video;
  {
    torch::NoGradGuard no_grad;
    std::tie(moved.audio, moved.visual) = model.features(attacked);
  }
  AskResult out = answer(moved, q);
  const double norm = batch.inputs[attacked_modality].norm().item<double>();
  const double moved_by =
      (attacked.inputs[attacked_modality] - batch.inputs[attacked_modality]).norm().item<double>();
  char note[256];
  std::snprintf(note, sizeof note,
                "answered under an l2 PGD attack (%d steps) on the decoded %s: the backbone input "
                "moved by %.3g (%.1f %% of its norm, %.1f dB below it); the clean answer was '%s' "
                "(%.1f %%)",
                a.steps, a.modality.c_str(), moved_by, 100 * moved_by / std::max(norm, 1e-12),
                20 * std::log10(std::max(norm, 1e-12) / std::max(moved_by, 1e-12)),
                clean.answer.c_str(), 100 * clean.top5.front().second);
  out.notes.push_back(note);
  return out;
}

AskResult ask(const AskOptions& o) {
  const VideoAnswerer answerer({o.run, o.visual_weights, o.audio_weights});
  const EncodedQuestion question = answerer.encode(o.question, o.values);  // before the work
  const PreparedVideo video = answerer.prepare(o.video);
  return o.attack ? answerer.answer_under_attack(video, question, *o.attack)
                  : answerer.answer(video, question);
}

std::vector<fs::path> write_overlays(const AskResult& r, const fs::path& folder) {
  fs::create_directories(folder);
  std::vector<fs::path> written;
  const int size = r.clip.frame_size;
  // A question-only run saw no frames: only the temporal plot.
  const std::size_t shown_segments = r.clip.frames.empty() ? 0 : r.segments.size();
  for (std::size_t k = 0; k < shown_segments; ++k) {
    const std::uint8_t* pixels =
        r.clip.frames.data() + static_cast<std::size_t>(r.segments[k]) * size * size * 3;
    cv::Mat rgb(size, size, CV_8UC3, const_cast<std::uint8_t*>(pixels));
    // Shown at 336 px or more (the demo's model sees 112 px), the frame beside its overlay, so
    // what lies under the heat stays visible.
    const int shown = std::max(size, 336);
    cv::Mat frame;
    cv::cvtColor(rgb, frame, cv::COLOR_RGB2BGR);
    if (shown != size) cv::resize(frame, frame, cv::Size(shown, shown), 0, 0, cv::INTER_LINEAR);
    const auto attention = r.spatial_attention[static_cast<std::int64_t>(k)].contiguous();
    cv::Mat map(r.grid, r.grid, CV_32F, const_cast<float*>(attention.data_ptr<float>()));
    double lo = 0, hi = 0;
    cv::minMaxLoc(map, &lo, &hi);
    cv::Mat scaled;
    map.convertTo(scaled, CV_8U, hi > lo ? 255.0 / (hi - lo) : 0.0,
                  hi > lo ? -lo * 255.0 / (hi - lo) : 0.0);
    cv::resize(scaled, scaled, cv::Size(shown, shown), 0, 0, cv::INTER_CUBIC);
    cv::Mat heat;
    cv::applyColorMap(scaled, heat, cv::COLORMAP_JET);
    cv::Mat blended;
    cv::addWeighted(frame, 0.55, heat, 0.45, 0, blended);
    cv::Mat side_by_side;
    cv::hconcat(frame, blended, side_by_side);
    char name[48];
    std::snprintf(name, sizeof name, "segment-%02zu.png", k);
    cv::imwrite((folder / name).string(), side_by_side);
    written.push_back(folder / name);
  }
  // Temporal attention: a pair of bars per segment, visual (orange) and audio (blue).
  const int width = 48 * static_cast<int>(r.segments.size()) + 40;
  cv::Mat plot(220, width, CV_8UC3, cv::Scalar(255, 255, 255));
  const float top =
      std::max(r.temporal_visual.max().item<float>(), r.temporal_audio.max().item<float>());
  for (std::size_t k = 0; k < r.segments.size(); ++k) {
    const int x = 20 + 48 * static_cast<int>(k);
    const auto bar = [&](float value, int dx, const cv::Scalar& color) {
      const int h = top > 0 ? static_cast<int>(170 * value / top) : 0;
      cv::rectangle(plot, cv::Point(x + dx, 190 - h), cv::Point(x + dx + 18, 190), color,
                    cv::FILLED);
    };
    bar(r.temporal_visual[static_cast<std::int64_t>(k)].item<float>(), 2, cv::Scalar(0, 140, 255));
    bar(r.temporal_audio[static_cast<std::int64_t>(k)].item<float>(), 22, cv::Scalar(200, 90, 20));
    char label[16];
    std::snprintf(label, sizeof label, "%gs", r.segment_seconds[k]);
    cv::putText(plot, label, cv::Point(x + 6, 210), cv::FONT_HERSHEY_SIMPLEX, 0.4,
                cv::Scalar(0, 0, 0), 1, cv::LINE_AA);
  }
  cv::putText(plot, "temporal attention: visual (orange), audio (blue)", cv::Point(10, 16),
              cv::FONT_HERSHEY_SIMPLEX, 0.45, cv::Scalar(0, 0, 0), 1, cv::LINE_AA);
  cv::imwrite((folder / "temporal.png").string(), plot);
  written.push_back(folder / "temporal.png");
  return written;
}

}  // namespace avqa::net
