#include "datasets/features/backbone_pretraining.h"

#include <algorithm>
#include <fstream>
#include <map>
#include <optional>

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
  torch::Tensor cell_labels;   // [N, G, G, 22] instruments under each cell's centre
  torch::Tensor examples;      // [M, 1, 96, 64] log-mel
  torch::Tensor audio_labels;  // [M, 22] instruments sounding in that second
};

std::vector<std::string> split_videos(const fs::path& data, const char* split) {
  const fs::path file = data / "annotations" / (std::string("avqa-") + split + ".json");
  return data::video_ids(data::load_annotations(file));
}

Samples load_samples(const fs::path& data,
                     const std::vector<std::string>& videos,
                     int frame_size,
                     int grid) {
  std::map<std::string, std::int64_t> index;
  for (std::size_t i = 0; i < kClasses.size(); ++i)
    index[kClasses[i]] = static_cast<std::int64_t>(i);
  const int classes = static_cast<int>(kClasses.size());
  std::vector<torch::Tensor> frames, frame_labels, cell_labels, examples, audio_labels;
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
    const double width = truth.at("width").get<double>();
    const double height = truth.at("height").get<double>();
    std::vector<std::vector<ClassBox>> boxes(static_cast<std::size_t>(seconds));
    media::SamplingOptions sampling;
    sampling.segments = seconds;
    sampling.frame_size = frame_size;
    const media::SampledClip clip = media::sample_clip(data / "videos" / (id + ".mp4"), sampling);
    auto visible = torch::zeros({static_cast<std::int64_t>(kClasses.size())});
    auto sounding = torch::zeros({seconds, static_cast<std::int64_t>(kClasses.size())});
    for (const json& inst : truth.at("instruments")) {
      const auto it = index.find(inst.at("class").get<std::string>());
      if (it == index.end()) continue;
      if (inst.at("visible").get<bool>()) {
        visible[it->second] = 1;
        const json& per_second = inst.at("box_per_second");
        for (std::size_t s = 0; s < boxes.size() && s < per_second.size(); ++s) {
          const json& b = per_second[s];
          boxes[s].push_back({b.at(0).get<double>(), b.at(1).get<double>(), b.at(2).get<double>(),
                              b.at(3).get<double>(), it->second});
        }
      }
      const auto& per_second = inst.at("sounding_per_second");
      for (int s = 0; s < seconds && s < static_cast<int>(per_second.size()); ++s) {
        if (per_second[static_cast<std::size_t>(s)].get<int>() == 1) sounding[s][it->second] = 1;
      }
    }
    frames.push_back(torch::from_blob(const_cast<std::uint8_t*>(clip.frames.data()),
                                      {seconds, frame_size, frame_size, 3}, torch::kUInt8)
                         .clone());
    frame_labels.push_back(visible.unsqueeze(0).expand({seconds, -1}).clone());
    for (const auto& second : boxes) {
      const std::vector<float> cells = cell_targets(second, grid, width, height, classes);
      cell_labels.push_back(torch::tensor(cells).view({1, grid, grid, classes}));
    }
    examples.push_back(vggish_examples(clip.audio, seconds, clip.samples_per_segment));
    audio_labels.push_back(sounding);
  }
  return {torch::cat(frames), torch::cat(frame_labels), torch::cat(cell_labels),
          torch::cat(examples), torch::cat(audio_labels)};
}

Samples concatenate(const std::vector<Samples>& parts) {
  const auto cat = [&](torch::Tensor Samples::*field) {
    std::vector<torch::Tensor> tensors;
    for (const Samples& part : parts)
      tensors.push_back(part.*field);
    return torch::cat(tensors);
  };
  return {cat(&Samples::frames), cat(&Samples::frame_labels), cat(&Samples::cell_labels),
          cat(&Samples::examples), cat(&Samples::audio_labels)};
}

// A pretraining corpus: every video of a generated dataset that has its truth, used whole.
struct Corpus {
  fs::path data;
  std::vector<std::string> videos;
  std::optional<std::uint64_t> seed;  // the generator's, from its manifest
};

std::vector<std::string> corpus_videos(const fs::path& corpus) {
  std::vector<std::string> ids;
  const fs::path truth = corpus / "truth";
  if (!fs::is_directory(truth))
    throw core::InputError({corpus.string(), std::nullopt, ""},
                           "is not a dataset written by avqa generate (no truth/ folder)");
  for (const auto& entry : fs::directory_iterator(truth)) {
    if (entry.path().extension() != ".json") continue;
    const std::string id = entry.path().stem().string();
    if (fs::exists(corpus / "videos" / (id + ".mp4"))) ids.push_back(id);
  }
  std::sort(ids.begin(), ids.end());
  if (ids.empty())
    throw core::InputError({corpus.string(), std::nullopt, ""}, "has no videos with truth");
  return ids;
}

// The generator's seed of a dataset (its manifest.json), if it records one.
std::optional<std::uint64_t> generator_seed(const fs::path& data) {
  const fs::path manifest = data / "manifest.json";
  if (!fs::exists(manifest)) return std::nullopt;
  try {
    const json m = json::parse(data::read_text_file(manifest));
    if (!m.contains("seed")) return std::nullopt;
    return m.at("seed").get<std::uint64_t>();
  } catch (const json::exception& e) {
    throw core::InputError({manifest.string(), std::nullopt, "seed"},
                           std::string("invalid manifest: ") + e.what());
  }
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

PretrainObjective parse_pretrain_objective(const std::string& name) {
  if (name == "frames") return PretrainObjective::Frames;
  if (name == "cells") return PretrainObjective::Cells;
  throw std::invalid_argument("unknown pretraining objective '" + name +
                              "' (expected frames or cells)");
}

const char* to_string(PretrainObjective objective) {
  return objective == PretrainObjective::Frames ? "frames" : "cells";
}

std::vector<float> cell_targets(
    const std::vector<ClassBox>& boxes, int grid, double width, double height, int classes) {
  std::vector<float> out(static_cast<std::size_t>(grid * grid * classes), 0.f);
  for (int i = 0; i < grid; ++i) {
    const double y = (i + 0.5) * height / grid;
    for (int j = 0; j < grid; ++j) {
      const double x = (j + 0.5) * width / grid;
      for (const ClassBox& b : boxes) {
        if (b.label < 0 || b.label >= classes)
          throw std::out_of_range("cell_targets: label " + std::to_string(b.label) +
                                  " outside 0.." + std::to_string(classes - 1));
        if (x >= b.x0 && x < b.x1 && y >= b.y0 && y < b.y1)
          out[static_cast<std::size_t>((i * grid + j) * classes + b.label)] = 1.f;
      }
    }
  }
  return out;
}

PretrainReport pretrain_backbones(const PretrainOptions& o) {
  if (o.epochs <= 0 || o.batch <= 0 || o.learning_rate <= 0 || o.frame_size < 32) {
    throw std::invalid_argument("--epochs, --batch, --lr must be positive and --size at least 32");
  }
  if (o.audio_mix < 0 || o.audio_mix > 1)
    throw std::invalid_argument("--audio-mix is a share of each audio batch, in [0, 1]");
  if (o.audio_epochs < 0 || o.audio_learning_rate < 0)
    throw std::invalid_argument(
        "--audio-epochs and --audio-lr must not be negative (0 = as "
        "--epochs and --lr)");
  const int audio_epochs = o.audio_epochs > 0 ? o.audio_epochs : o.epochs;
  const double audio_lr = o.audio_learning_rate > 0 ? o.audio_learning_rate : o.learning_rate;
  std::vector<std::string> train = split_videos(o.data, "train");
  std::vector<std::string> val = split_videos(o.data, "val");
  if (o.max_videos > 0 && static_cast<int>(train.size()) > o.max_videos)
    train.resize(static_cast<std::size_t>(o.max_videos));
  if (train.empty())
    throw core::InputError({o.data.string(), std::nullopt, ""}, "has no training videos");
  std::vector<Corpus> corpora;
  const std::optional<std::uint64_t> data_seed = generator_seed(o.data);
  for (const fs::path& corpus : o.corpora) {
    Corpus c{corpus, {}, generator_seed(corpus)};
    if (data_seed && c.seed == data_seed)
      throw core::InputError({(corpus / "manifest.json").string(), std::nullopt, "seed"},
                             "was generated with --seed " + std::to_string(*data_seed) + " like " +
                                 o.data.string() +
                                 ": its videos would repeat that dataset's test videos; "
                                 "generate the corpus with another seed");
    c.videos = corpus_videos(corpus);
    corpora.push_back(std::move(c));
  }

  torch::manual_seed(static_cast<std::int64_t>(o.seed));
  ResNet18 resnet(ResNet18Options{true});
  Vggish vggish;
  torch::nn::Linear visual_head(512, static_cast<std::int64_t>(kClasses.size()));
  torch::nn::Linear audio_head(128, static_cast<std::int64_t>(kClasses.size()));
  const bool cells = o.objective == PretrainObjective::Cells;
  // Drawn after the backbones, so both objectives start from the same weights, and only when
  // used, so the frames objective draws what it drew before there was a choice.
  torch::nn::Linear cell_head{nullptr};
  if (cells) cell_head = torch::nn::Linear(512, static_cast<std::int64_t>(kClasses.size()));
  const int grid = [&] {
    torch::NoGradGuard no_grad;
    resnet->eval();  // a training-mode pass would move the batch-norm statistics
    return static_cast<int>(
        resnet->forward(torch::zeros({1, 3, o.frame_size, o.frame_size})).size(2));
  }();
  std::vector<Samples> train_parts{load_samples(o.data, train, o.frame_size, grid)};
  const Samples val_set =
      val.empty() ? train_parts.front() : load_samples(o.data, val, o.frame_size, grid);
  for (const Corpus& c : corpora)
    train_parts.push_back(load_samples(c.data, c.videos, o.frame_size, grid));
  const Samples train_set =
      train_parts.size() == 1 ? train_parts.front() : concatenate(train_parts);
  train_parts.clear();

  std::vector<torch::Tensor> visual_params = resnet->parameters();
  for (const auto& p : visual_head->parameters())
    visual_params.push_back(p);
  if (cells) {
    for (const auto& p : cell_head->parameters())
      visual_params.push_back(p);
  }
  std::vector<torch::Tensor> audio_params = vggish->parameters();
  for (const auto& p : audio_head->parameters())
    audio_params.push_back(p);
  torch::optim::Adam visual_opt(visual_params, torch::optim::AdamOptions(o.learning_rate));
  torch::optim::Adam audio_opt(audio_params, torch::optim::AdamOptions(audio_lr));

  // Frame logits [B, 22] and cell logits [B, G, G, 22] of frames [B, S, S, 3] uint8.
  auto visual_logits = [&](const torch::Tensor& frames_u8) {
    const auto maps = resnet->forward(normalize_frames(frames_u8, Normalization::Kinetics));
    const auto frame_logits = visual_head(maps.mean({2, 3}));
    return std::make_pair(frame_logits,
                          cells ? cell_head(maps.permute({0, 2, 3, 1})) : torch::Tensor());
  };
  auto audio_logits = [&](const torch::Tensor& examples) {
    return audio_head(vggish->forward(examples));
  };

  PretrainReport report;
  report.train_frames = static_cast<std::size_t>(train_set.frames.size(0));
  for (const Corpus& c : corpora)
    report.corpus_videos += c.videos.size();
  report.val_frames = static_cast<std::size_t>(val_set.frames.size(0));
  const std::int64_t n_frames = train_set.frames.size(0);
  const std::int64_t n_examples = train_set.examples.size(0);
  const auto steps_over = [&](std::int64_t n) { return (n + o.batch - 1) / o.batch; };
  PretrainEpoch last;
  for (int epoch = 0; epoch < std::max(o.epochs, audio_epochs); ++epoch) {
    PretrainEpoch stats;
    stats.visual_trained = epoch < o.epochs;
    stats.audio_trained = epoch < audio_epochs;
    const std::int64_t steps = std::max(stats.visual_trained ? steps_over(n_frames) : 0,
                                        stats.audio_trained ? steps_over(n_examples) : 0);
    resnet->train();
    vggish->train();
    // Drawn in this order when both train, as before there were separate epoch counts.
    const auto frame_order = stats.visual_trained ? torch::randperm(n_frames) : torch::Tensor();
    const auto example_order = stats.audio_trained ? torch::randperm(n_examples) : torch::Tensor();
    core::ProgressLine progress("pretrain epoch " + std::to_string(epoch + 1),
                                static_cast<std::size_t>(steps), "steps");
    for (std::int64_t step = 0; step < steps; ++step) {
      const auto pick = [&](const torch::Tensor& order, std::int64_t n) {
        const std::int64_t start = (step * o.batch) % n;
        return order.narrow(0, start, std::min<std::int64_t>(o.batch, n - start));
      };
      // One optimisation step on a loss; returns it.
      const auto train_step = [](torch::optim::Adam& opt, const torch::Tensor& loss) {
        opt.zero_grad();
        loss.backward();
        opt.step();
        return loss.item<double>();
      };
      const auto bce = [](const torch::Tensor& logits, const torch::Tensor& labels) {
        return torch::binary_cross_entropy_with_logits(logits, labels);
      };
      if (stats.visual_trained) {
        const auto fi = pick(frame_order, n_frames);
        // Half the frames mirrored: the visible instruments stay the same, and without it the few
        // scenes of a small dataset are learnt by heart (train BCE 0.03 at val F1 0.34).
        const auto frames = train_set.frames.index_select(0, fi);  // [B, H, W, 3]
        const auto mirror = (torch::rand({frames.size(0)}) < 0.5).view({-1, 1, 1, 1});
        const auto [frame_logits, cell_logits] =
            visual_logits(torch::where(mirror, frames.flip({2}), frames));
        const auto frame_loss = bce(frame_logits, train_set.frame_labels.index_select(0, fi));
        if (cells) {
          const auto targets = train_set.cell_labels.index_select(0, fi);  // [B, G, G, 22]
          const auto cell_loss = bce(cell_logits, torch::where(mirror, targets.flip({2}), targets));
          stats.cell_loss += cell_loss.item<double>() / static_cast<double>(steps);
          stats.visual_loss += frame_loss.item<double>() / static_cast<double>(steps);
          train_step(visual_opt, frame_loss + cell_loss);
        } else {
          stats.visual_loss += train_step(visual_opt, frame_loss) / static_cast<double>(steps);
        }
      }
      if (stats.audio_trained) {
        const auto ai = pick(example_order, n_examples);
        auto examples = train_set.examples.index_select(0, ai);    // [B, 1, 96, 64]
        auto labels = train_set.audio_labels.index_select(0, ai);  // [B, 22]
        if (o.audio_mix > 0) {
          const auto partner = torch::randint(n_examples, {ai.size(0)}, torch::kLong);
          const auto mixed = torch::rand({ai.size(0)}) < o.audio_mix;
          examples = torch::where(
              mixed.view({-1, 1, 1, 1}),
              mix_log_mel(examples, train_set.examples.index_select(0, partner)), examples);
          labels = torch::where(
              mixed.view({-1, 1}),
              torch::maximum(labels, train_set.audio_labels.index_select(0, partner)), labels);
        }
        const auto aloss = train_step(audio_opt, bce(audio_logits(examples), labels));
        stats.audio_loss += aloss / static_cast<double>(steps);
      }
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
    if (stats.visual_trained) {
      std::vector<torch::Tensor> frame_parts, cell_parts;
      for (std::int64_t s = 0; s < val_set.frames.size(0); s += o.batch) {
        const auto [f, c] = visual_logits(val_set.frames.narrow(
            0, s, std::min<std::int64_t>(o.batch, val_set.frames.size(0) - s)));
        frame_parts.push_back(f);
        if (cells) cell_parts.push_back(c);
      }
      stats.visual_val_f1 = micro_f1(torch::cat(frame_parts), val_set.frame_labels);
      if (cells) stats.cell_val_f1 = micro_f1(torch::cat(cell_parts), val_set.cell_labels);
    } else {
      stats.visual_val_f1 = last.visual_val_f1;
      stats.cell_val_f1 = last.cell_val_f1;
    }
    stats.audio_val_f1 = stats.audio_trained ? micro_f1(predict(audio_logits, val_set.examples),
                                                        val_set.audio_labels)
                                             : last.audio_val_f1;
    report.epochs.push_back(stats);
    last = stats;
  }

  fs::create_directories(o.out);
  report.visual_weights = o.out / "resnet18.pt";
  report.audio_weights = o.out / "vggish.pt";
  save_state_dict(*resnet, report.visual_weights);
  save_state_dict(*vggish, report.audio_weights);
  json epochs = json::array();
  for (const auto& e : report.epochs) {
    epochs.push_back({{"visual_loss", e.visual_trained ? json(e.visual_loss) : json(nullptr)},
                      {"audio_loss", e.audio_trained ? json(e.audio_loss) : json(nullptr)},
                      {"visual_val_f1", e.visual_val_f1},
                      {"audio_val_f1", e.audio_val_f1}});
    if (cells) {
      epochs.back()["cell_loss"] = e.visual_trained ? json(e.cell_loss) : json(nullptr);
      epochs.back()["cell_val_f1"] = e.cell_val_f1;
    }
  }
  json corpora_description = json::array();
  for (const Corpus& c : corpora) {
    corpora_description.push_back({{"data", fs::absolute(c.data).lexically_normal().string()},
                                   {"videos", c.videos.size()},
                                   {"generator_seed", c.seed ? json(*c.seed) : json(nullptr)}});
  }
  const json description = {
      {"what",
       "ResNet-18 (layer4 stride 1) and VGGish trained by avqa "
       "pretrain-backbones on synthetic data: "
       "NOT ImageNet or AudioSet weights"},
      {"data", fs::absolute(o.data).lexically_normal().string()},
      {"task",
       "22-way multi-label: instruments visible per frame (ResNet-18), "
       "instruments sounding per second (VGGish)"},
      {"objective", to_string(o.objective)},
      {"objective_means", cells ? "visible per frame and per cell of the 512-channel map "
                                  "(the cell's centre in an instrument's truth box)"
                                : "visible per frame (from the map's mean)"},
      {"train_videos", train.size()},
      {"corpora", corpora_description},
      {"frame_size", o.frame_size},
      {"epochs", epochs},
      {"visual_epochs", o.epochs},
      {"audio_epochs", audio_epochs},
      {"seed", o.seed},
      {"learning_rate", o.learning_rate},
      {"audio_learning_rate", audio_lr},
      {"audio_mix", o.audio_mix},
      {"batch", o.batch}};
  core::write_file_atomically(o.out / "pretraining.json", description.dump(2) + "\n");
  return report;
}

}  // namespace avqa::features
