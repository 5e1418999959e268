#include "avqa/question_answering.h"

#include <algorithm>
#include <map>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "avqa/st_avqa_net.h"
#include "avqa/torch_checkpoint.h"
#include "avqa/trainer.h"
#include "core/input_error.h"
#include "datasets/features/extractor.h"
#include "datasets/features/feature_cache.h"
#include "datasets/question_text.h"
#include "datasets/sentence_piece.h"
#include "datasets/vocabulary.h"

namespace avqa::net {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

// "file sha256:..." -> the hash part, to compare weights by content rather than by name.
std::string hash_of(const std::string& description) {
  const auto at = description.find("sha256:");
  return at == std::string::npos ? description : description.substr(at);
}

}  // namespace

AskResult ask(const AskOptions& o) {
  const json config = json::parse(data::read_text_file(o.run / "config.json"));
  const data::Vocabularies vocab = data::load_vocabularies(o.run / "vocab.json");
  const features::FeatureCacheReader cache(config.at("cache").get<std::string>());
  const features::CacheLayout& layout = cache.layout();

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

  // The same backbones and weights as the features the run learnt from.
  features::ExtractOptions x;
  x.visual = "none";
  x.audio = "none";
  for (const auto& m : layout.modalities) {
    (m.name == "visual" ? x.visual : x.audio) = m.backbone;
  }
  x.visual_weights = o.visual_weights;
  x.audio_weights = o.audio_weights;
  x.normalization = features::parse_normalization(layout.attributes.count("visual_normalization")
                                                      ? layout.attributes.at("visual_normalization")
                                                      : "kinetics");
  x.sampling.segments = layout.segments;
  x.sampling.fps = layout.fps;
  x.sampling.sample_rate = layout.sample_rate;
  if (layout.attributes.count("frame_size"))
    x.sampling.frame_size = std::stoi(layout.attributes.at("frame_size"));
  features::ClipFeatureExtractor extractor(x);
  for (const auto& made : extractor.modalities()) {
    for (const auto& m : layout.modalities) {
      if (m.name == made.name && hash_of(m.weights) != hash_of(made.weights)) {
        throw core::InputError({o.video.string(), std::nullopt, m.name + "_weights"},
                               "the run was trained on " + m.name + " features of " + m.weights +
                                   ", not " + made.weights + "; pass the same weights (--" +
                                   m.name + "-weights)");
      }
    }
  }

  result.clip = media::sample_clip(o.video, x.sampling);
  const features::VideoFeatures features = extractor.extract(result.clip);
  const int segments = config.at("segments").get<int>();
  for (int k = 0; k < segments; ++k)
    result.segments.push_back(k * layout.segments / segments);
  const auto pick = [&](const std::string& name, std::vector<std::int64_t> shape) {
    const auto& all = features.modalities.at(name);
    const auto per_segment = static_cast<std::int64_t>(all.size()) / layout.segments;
    auto full = torch::from_blob(const_cast<float*>(all.data()), {layout.segments, per_segment},
                                 torch::kFloat32);
    auto chosen = full.index_select(0, torch::tensor(std::vector<std::int64_t>(
                                           result.segments.begin(), result.segments.end())));
    shape.insert(shape.begin(), {1, segments});
    return chosen.reshape(shape).clone();
  };
  StAvqaNet model = load_run_model(o.run);
  const StAvqaOptions& widths = model->options();
  const auto& visual_shape =
      std::find_if(layout.modalities.begin(), layout.modalities.end(), [](const auto& m) {
        return m.name == "visual";
      })->segment_shape;
  result.grid = static_cast<int>(visual_shape[1]);
  const auto audio = pick("audio", {widths.audio_dim});
  const auto visual = pick("visual", {static_cast<std::int64_t>(visual_shape[0]),
                                      static_cast<std::int64_t>(visual_shape[1]),
                                      static_cast<std::int64_t>(visual_shape[2])});

  torch::NoGradGuard no_grad;
  const bool question_only = config.value("question_only", false);
  const auto question = torch::tensor(ids).unsqueeze(0);
  const StAvqaOutput out =
      question_only ? model->forward(torch::zeros_like(audio), torch::zeros_like(visual), question)
                    : model->forward(audio, visual, question);
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
  for (std::size_t k = 0; k < r.segments.size(); ++k) {
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
    cv::putText(plot, std::to_string(r.segments[k]) + "s", cv::Point(x + 6, 210),
                cv::FONT_HERSHEY_SIMPLEX, 0.4, cv::Scalar(0, 0, 0), 1, cv::LINE_AA);
  }
  cv::putText(plot, "temporal attention: visual (orange), audio (blue)", cv::Point(10, 16),
              cv::FONT_HERSHEY_SIMPLEX, 0.45, cv::Scalar(0, 0, 0), 1, cv::LINE_AA);
  cv::imwrite((folder / "temporal.png").string(), plot);
  written.push_back(folder / "temporal.png");
  return written;
}

}  // namespace avqa::net
