#include "datasets/features/backbone_pretraining.h"

#include <algorithm>
#include <fstream>
#include <map>

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "core/atomic_file.h"
#include "core/checkpoint/torch_checkpoint.h"
#include "core/input_error.h"
#include "core/progress_line.h"
#include "datasets/annotations.h"
#include "datasets/features/backbones.h"
#include "datasets/features/log_mel.h"
#include "datasets/media/media_reader.h"
#include "datasets/vocabulary.h"

namespace avqa::features {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

// The label order of both heads.
const std::vector<std::string>& kClasses = data::music_avqa_instruments();

struct Samples {
  torch::Tensor frames;        // [N, S, S, 3] uint8
  torch::Tensor frame_labels;  // [N, 22] instruments visible
  torch::Tensor examples;      // [M, 1, 96, 64] log-mel
  torch::Tensor audio_labels;  // [M, 22] instruments sounding in that second
};

std::vector<std::string> split_videos(const fs::path& data, const char* split) {
  const fs::path file = data / "annotations" / (std::string("avqa-") + split + ".json");
  return data::video_ids(data::load_annotations(file));
}

Samples load_samples(const fs::path& data, const std::vector<std::string>& videos, int frame_size) {
  std::map<std::string, std::int64_t> index;
  for (std::size_t i = 0; i < kClasses.size(); ++i)
    index[kClasses[i]] = static_cast<std::int64_t>(i);
  std::vector<torch::Tensor> frames, frame_labels, examples, audio_labels;
  for (const std::string& id : videos) {
    const fs::path truth_file = data / "truth" / (id + ".json");
    json truth;
    try {
      truth = json::parse(data::read_text_file(truth_file));
    } catch (const json::exception& e) {
      throw core::InputError({truth_file.string(), std::nullopt, ""},
                             std::string("invalid truth file: ") + e.what());
    }
    const int seconds = truth.at("seconds").get<int>();
    media::SamplingOptions sampling;
    sampling.segments = seconds;
    sampling.frame_size = frame_size;
    const media::SampledClip clip = media::sample_clip(data / "videos" / (id + ".mp4"), sampling);
    auto visible = torch::zeros({static_cast<std::int64_t>(kClasses.size())});
    auto sounding = torch::zeros({seconds, static_cast<std::int64_t>(kClasses.size())});
    for (const json& inst : truth.at("instruments")) {
      const auto it = index.find(inst.at("class").get<std::string>());
      if (it == index.end()) continue;
      if (inst.at("visible").get<bool>()) visible[it->second] = 1;
      const auto& per_second = inst.at("sounding_per_second");
      for (int s = 0; s < seconds && s < static_cast<int>(per_second.size()); ++s) {
        if (per_second[static_cast<std::size_t>(s)].get<int>() == 1) sounding[s][it->second] = 1;
      }
    }
    frames.push_back(torch::from_blob(const_cast<std::uint8_t*>(clip.frames.data()),
                                      {seconds, frame_size, frame_size, 3}, torch::kUInt8)
                         .clone());
    frame_labels.push_back(visible.unsqueeze(0).expand({seconds, -1}).clone());
    examples.push_back(vggish_examples(clip.audio, seconds, clip.samples_per_segment));
    audio_labels.push_back(sounding);
  }
  return {torch::cat(frames), torch::cat(frame_labels), torch::cat(examples),
          torch::cat(audio_labels)};
}

double micro_f1(const torch::Tensor& logits, const torch::Tensor& labels) {
  const auto predicted = (logits > 0).to(torch::kFloat32);
  const double tp = (predicted * labels).sum().item<double>();
  const double fp = (predicted * (1 - labels)).sum().item<double>();
  const double fn = ((1 - predicted) * labels).sum().item<double>();
  return tp > 0 ? 2 * tp / (2 * tp + fp + fn) : 0.0;
}

// Saves the trunk's parameters and buffers under its own names (what load_weights reads).
void save_state_dict(torch::nn::Module& module, const fs::path& path) {
  checkpoint::NamedTensors tensors;
  for (const auto& p : module.named_parameters())
    tensors.emplace_back(p.key(), p.value().detach());
  for (const auto& b : module.named_buffers())
    tensors.emplace_back(b.key(), b.value());
  checkpoint::write_torch_state_dict(path, tensors);  // Python's torch.load reads it too
}

}  // namespace

PretrainReport pretrain_backbones(const PretrainOptions& o) {
  if (o.epochs <= 0 || o.batch <= 0 || o.learning_rate <= 0 || o.frame_size < 32) {
    throw std::invalid_argument("--epochs, --batch, --lr must be positive and --size at least 32");
  }
  std::vector<std::string> train = split_videos(o.data, "train");
  std::vector<std::string> val = split_videos(o.data, "val");
  if (o.max_videos > 0 && static_cast<int>(train.size()) > o.max_videos)
    train.resize(static_cast<std::size_t>(o.max_videos));
  if (train.empty())
    throw core::InputError({o.data.string(), std::nullopt, ""}, "has no training videos");
  const Samples train_set = load_samples(o.data, train, o.frame_size);
  const Samples val_set = val.empty() ? train_set : load_samples(o.data, val, o.frame_size);

  torch::manual_seed(static_cast<std::int64_t>(o.seed));
  ResNet18 resnet(ResNet18Options{true});
  Vggish vggish;
  torch::nn::Linear visual_head(512, static_cast<std::int64_t>(kClasses.size()));
  torch::nn::Linear audio_head(128, static_cast<std::int64_t>(kClasses.size()));
  std::vector<torch::Tensor> visual_params = resnet->parameters();
  for (const auto& p : visual_head->parameters())
    visual_params.push_back(p);
  std::vector<torch::Tensor> audio_params = vggish->parameters();
  for (const auto& p : audio_head->parameters())
    audio_params.push_back(p);
  torch::optim::Adam visual_opt(visual_params, torch::optim::AdamOptions(o.learning_rate));
  torch::optim::Adam audio_opt(audio_params, torch::optim::AdamOptions(o.learning_rate));

  auto visual_logits = [&](const torch::Tensor& frames_u8) {
    return visual_head(
        resnet->forward(normalize_frames(frames_u8, Normalization::Kinetics)).mean({2, 3}));
  };
  auto audio_logits = [&](const torch::Tensor& examples) {
    return audio_head(vggish->forward(examples));
  };

  PretrainReport report;
  report.train_frames = static_cast<std::size_t>(train_set.frames.size(0));
  report.val_frames = static_cast<std::size_t>(val_set.frames.size(0));
  const std::int64_t n_frames = train_set.frames.size(0);
  const std::int64_t n_examples = train_set.examples.size(0);
  const std::int64_t steps = (std::max(n_frames, n_examples) + o.batch - 1) / o.batch;
  for (int epoch = 0; epoch < o.epochs; ++epoch) {
    resnet->train();
    vggish->train();
    const auto frame_order = torch::randperm(n_frames);
    const auto example_order = torch::randperm(n_examples);
    PretrainEpoch stats;
    core::ProgressLine progress("pretrain epoch " + std::to_string(epoch + 1),
                                static_cast<std::size_t>(steps), "steps");
    for (std::int64_t step = 0; step < steps; ++step) {
      const auto pick = [&](const torch::Tensor& order, std::int64_t n) {
        const std::int64_t start = (step * o.batch) % n;
        return order.narrow(0, start, std::min<std::int64_t>(o.batch, n - start));
      };
      // One optimisation step of one backbone and its head on a batch; returns the loss.
      const auto train_step = [](torch::optim::Adam& opt, const torch::Tensor& logits,
                                 const torch::Tensor& labels) {
        opt.zero_grad();
        const auto loss = torch::binary_cross_entropy_with_logits(logits, labels);
        loss.backward();
        opt.step();
        return loss;
      };
      const auto fi = pick(frame_order, n_frames);
      // Half the frames mirrored: the visible instruments stay the same, and without it the few
      // scenes of a small dataset are learnt by heart (train BCE 0.03 at val F1 0.34).
      const auto frames = train_set.frames.index_select(0, fi);  // [B, H, W, 3]
      const auto mirror = (torch::rand({frames.size(0)}) < 0.5).view({-1, 1, 1, 1});
      const auto vloss =
          train_step(visual_opt, visual_logits(torch::where(mirror, frames.flip({2}), frames)),
                     train_set.frame_labels.index_select(0, fi));
      const auto ai = pick(example_order, n_examples);
      const auto aloss = train_step(audio_opt, audio_logits(train_set.examples.index_select(0, ai)),
                                    train_set.audio_labels.index_select(0, ai));
      stats.visual_loss += vloss.item<double>() / static_cast<double>(steps);
      stats.audio_loss += aloss.item<double>() / static_cast<double>(steps);
      if (o.progress) progress.update(static_cast<std::size_t>(step + 1));
    }
    if (o.progress) progress.finish();
    resnet->eval();
    vggish->eval();
    torch::NoGradGuard no_grad;
    const auto predict = [&](const auto& logits_of, const torch::Tensor& inputs) {
      std::vector<torch::Tensor> parts;
      for (std::int64_t s = 0; s < inputs.size(0); s += o.batch) {
        parts.push_back(
            logits_of(inputs.narrow(0, s, std::min<std::int64_t>(o.batch, inputs.size(0) - s))));
      }
      return torch::cat(parts);
    };
    stats.visual_val_f1 = micro_f1(predict(visual_logits, val_set.frames), val_set.frame_labels);
    stats.audio_val_f1 = micro_f1(predict(audio_logits, val_set.examples), val_set.audio_labels);
    report.epochs.push_back(stats);
  }

  fs::create_directories(o.out);
  report.visual_weights = o.out / "resnet18.pt";
  report.audio_weights = o.out / "vggish.pt";
  save_state_dict(*resnet, report.visual_weights);
  save_state_dict(*vggish, report.audio_weights);
  json epochs = json::array();
  for (const auto& e : report.epochs) {
    epochs.push_back({{"visual_loss", e.visual_loss},
                      {"audio_loss", e.audio_loss},
                      {"visual_val_f1", e.visual_val_f1},
                      {"audio_val_f1", e.audio_val_f1}});
  }
  const json description = {{"what",
                             "ResNet-18 (layer4 stride 1) and VGGish trained by avqa "
                             "pretrain-backbones on synthetic data: "
                             "NOT ImageNet or AudioSet weights"},
                            {"data", fs::absolute(o.data).lexically_normal().string()},
                            {"task",
                             "22-way multi-label: instruments visible per frame (ResNet-18), "
                             "instruments sounding per second (VGGish)"},
                            {"train_videos", train.size()},
                            {"frame_size", o.frame_size},
                            {"epochs", epochs},
                            {"seed", o.seed},
                            {"learning_rate", o.learning_rate},
                            {"batch", o.batch}};
  core::write_file_atomically(o.out / "pretraining.json", description.dump(2) + "\n");
  return report;
}

}  // namespace avqa::features
