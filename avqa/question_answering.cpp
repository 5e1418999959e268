#include "avqa/question_answering.h"

#include <algorithm>
#include <map>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "avqa/run_folder.h"
#include "avqa/st_avqa_net.h"
#include "core/input_error.h"
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
fs::path weights_for(const AskOptions& o, const FeatureRecipe::Backbone& b) {
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

AskResult ask(const AskOptions& o) {
  const RunConfig config = load_run_config(o.run);
  const data::Vocabularies vocab = data::load_vocabularies(o.run / "vocab.json");

  AskResult result;
  // The question as the original reads it: placeholders filled, last character dropped.
  try {
    result.words = data::question_words(o.question, o.values);
  } catch (const std::invalid_argument& e) {
    throw core::InputError({"--question", std::nullopt, ""}, e.what());
  }
  std::vector<std::int64_t> ids;
  try {
    if (vocab.pieces) {  // show the user how the question falls apart into pieces
      result.pieces = data::SentencePieceModel(vocab.pieces->model, vocab.pieces->size)
                          .pieces({data::question_sentence(result.words)})
                          .front();
    }
    ids = data::encode_question(result.words, vocab);
  } catch (const std::invalid_argument& e) {
    throw core::InputError(
        {"--question", std::nullopt, ""},
        std::string(e.what()) +
            (vocab.pieces
                 ? std::string()
                 : "; the run knows the words of its training questions (a run trained with "
                   "--tokenizer, see avqa data spm-train, reads any wording)"));
  }

  StAvqaNet model = load_run_model(o.run, config);
  const StAvqaOptions& widths = model->options();
  const auto question = torch::tensor(ids).unsqueeze(0);
  torch::Tensor audio, visual;
  if (!config.features) {
    if (!config.question_only) {
      throw core::InputError({(o.run / "config.json").string(), std::nullopt, "features"},
                             "is missing: the run does not say how its features were extracted");
    }
    result.grid = 1;
    for (int k = 0; k < config.segments; ++k) {
      result.segments.push_back(k);
      result.segment_seconds.push_back(k);
    }
    audio = torch::zeros({1, config.segments, widths.audio_dim});
    visual = torch::zeros({1, config.segments, widths.visual_channels, 1, 1});
  } else {
    const FeatureRecipe& recipe = *config.features;
    const auto* visual_backbone = recipe.find("visual");
    const auto* audio_backbone = recipe.find("audio");
    if (visual_backbone == nullptr || audio_backbone == nullptr ||
        visual_backbone->segment_shape.size() != 3) {
      throw core::InputError({(o.run / "config.json").string(), std::nullopt, "features.backbones"},
                             "must name an audio backbone and a visual one of [C, H, W] maps");
    }
    // The same sampling, backbones and weights as the features the run learnt from.
    features::ExtractOptions x;
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
    features::ClipFeatureExtractor extractor(x);
    for (const auto& made : extractor.modalities()) {
      const auto* recorded = recipe.find(made.name);
      if (recorded == nullptr) continue;
      if (recorded->weights == FeatureRecipe::kUnknownWeights) {
        result.notes.push_back("the run's " + made.name +
                               " features recorded no weights; unchecked: " + made.weights);
      } else if (FeatureRecipe::sha256_of(recorded->weights) !=
                     FeatureRecipe::sha256_of(made.weights) ||
                 (FeatureRecipe::sha256_of(made.weights).empty() &&
                  recorded->weights != made.weights)) {
        throw core::InputError({o.video.string(), std::nullopt, made.name + "_weights"},
                               "the run was trained on " + made.name + " features of " +
                                   recorded->weights + ", not " + made.weights +
                                   "; pass the same weights (--" + made.name + "-weights)");
      }
    }
    result.clip = media::sample_clip(o.video, x.sampling);
    const features::VideoFeatures features = extractor.extract(result.clip);
    result.segments = model_segment_rows(recipe.segments, config.segments);
    for (const int row : result.segments)
      result.segment_seconds.push_back(recipe.seconds_of(row));
    const auto pick = [&](const std::string& name, std::vector<std::int64_t> shape) {
      const auto& all = features.modalities.at(name);
      const auto per_segment = static_cast<std::int64_t>(all.size()) / recipe.segments;
      auto full = torch::from_blob(const_cast<float*>(all.data()), {recipe.segments, per_segment},
                                   torch::kFloat32);
      auto chosen = full.index_select(0, torch::tensor(std::vector<std::int64_t>(
                                             result.segments.begin(), result.segments.end())));
      shape.insert(shape.begin(), {1, config.segments});
      return chosen.reshape(shape).clone();
    };
    const auto& shape = visual_backbone->segment_shape;
    result.grid = static_cast<int>(shape[1]);
    audio = pick("audio", {widths.audio_dim});
    visual =
        pick("visual", {static_cast<std::int64_t>(shape[0]), static_cast<std::int64_t>(shape[1]),
                        static_cast<std::int64_t>(shape[2])});
    if (config.question_only) {
      audio = torch::zeros_like(audio);
      visual = torch::zeros_like(visual);
    }
  }

  torch::NoGradGuard no_grad;
  const StAvqaOutput out = model->forward(audio, visual, question);
  const auto probabilities = torch::softmax(out.logits[0], 0);
  const auto [values, top] = probabilities.topk(std::min<std::int64_t>(5, probabilities.size(0)));
  for (std::int64_t j = 0; j < top.size(0); ++j) {
    result.top5.emplace_back(vocab.answers.answer(top[j].item<std::int64_t>()),
                             values[j].item<float>());
  }
  result.answer = result.top5.front().first;
  result.spatial_attention = out.spatial_attention[0];
  result.temporal_visual = out.temporal_visual[0];
  result.temporal_audio = out.temporal_audio[0];
  return result;
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
