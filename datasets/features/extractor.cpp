#include "datasets/features/extractor.h"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <exception>
#include <fstream>
#include <iostream>
#include <mutex>
#include <optional>
#include <set>
#include <thread>

#include <nlohmann/json.hpp>
#include <torch/script.h>
#include <torch/torch.h>

#include "core/atomic_file.h"
#include "core/checkpoint/torch_checkpoint.h"
#include "core/input_error.h"
#include "core/progress_line.h"
#include "core/sha256.h"
#include "datasets/features/log_mel.h"

namespace avqa::features {
namespace {

namespace fs = std::filesystem;

constexpr const char* kRandomInit = "random-init";

// One backbone: what it is called, what made its weights, and how to run it on a batch.
class Backbone {
 public:
  virtual ~Backbone() = default;
  virtual std::string name() const = 0;
  virtual torch::Tensor run(const torch::Tensor& input) = 0;
  std::string weights = kRandomInit;
};

class ModuleBackbone : public Backbone {
 public:
  ModuleBackbone(std::string name,
                 std::shared_ptr<torch::nn::Module> module,
                 std::function<torch::Tensor(const torch::Tensor&)> forward)
      : name_(std::move(name)), module_(std::move(module)), forward_(std::move(forward)) {
    module_->eval();
  }
  std::string name() const override { return name_; }
  torch::Tensor run(const torch::Tensor& input) override { return forward_(input); }
  torch::nn::Module& module() { return *module_; }

 private:
  std::string name_;
  std::shared_ptr<torch::nn::Module> module_;
  std::function<torch::Tensor(const torch::Tensor&)> forward_;
};

class ScriptedBackbone : public Backbone {
 public:
  explicit ScriptedBackbone(const fs::path& file) : file_(file) {
    if (!checkpoint::is_torchscript_archive(
            file)) {  // validates the archive before LibTorch reads it
      throw core::InputError({file.string(), std::nullopt, ""},
                             "a torch.save state-dict, not a TorchScript archive (torch.jit.save); "
                             "pass it as weights of a built-in backbone instead");
    }
    try {
      module_ = torch::jit::load(file.string());
    } catch (const std::exception&) {
      throw core::InputError({file.string(), std::nullopt, ""},
                             "not a loadable TorchScript archive");
    }
    module_.eval();
    weights = file.filename().string() + " sha256:" + core::sha256_file(file);
  }
  std::string name() const override { return "torchscript:" + file_.filename().string(); }
  torch::Tensor run(const torch::Tensor& input) override {
    return module_.forward({input}).toTensor();
  }

 private:
  fs::path file_;
  torch::jit::script::Module module_;
};

std::unique_ptr<Backbone> make_backbone(const std::string& spec,
                                        const fs::path& weights,
                                        bool visual,
                                        std::uint64_t seed) {
  if (spec == "none") return nullptr;
  if (spec.rfind("torchscript:", 0) == 0)
    return std::make_unique<ScriptedBackbone>(spec.substr(12));
  torch::manual_seed(static_cast<std::int64_t>(seed));
  std::unique_ptr<ModuleBackbone> backbone;
  ResNet18 resnet{nullptr};
  if (visual && (spec == "resnet18" || spec == "resnet18-7x7")) {
    resnet = ResNet18(ResNet18Options{spec == "resnet18"});
    backbone = std::make_unique<ModuleBackbone>(
        spec, resnet.ptr(),
        [resnet](const torch::Tensor& x) mutable { return resnet->forward(x); });
  } else if (!visual && spec == "vggish") {
    Vggish net;
    backbone = std::make_unique<ModuleBackbone>(
        spec, net.ptr(), [net](const torch::Tensor& x) mutable { return net->forward(x); });
  } else {
    throw std::invalid_argument(
        std::string(visual ? "--visual" : "--audio") + ": unknown backbone '" + spec + "' (" +
        (visual ? "resnet18, resnet18-7x7" : "vggish") + ", torchscript:FILE or none)");
  }
  if (!weights.empty()) backbone->weights = load_weights(backbone->module(), weights).description;
  if (resnet) resnet->fold_batch_norm();
  // oneDNN's convolutions run about 17 % faster on channels-last tensors (ResNet-18, 10 frames
  // at 224, 2 threads: 0.197 s -> 0.163 s); the values are the same.
  for (auto& p : backbone->module().parameters()) {
    if (p.dim() == 4) p.set_data(p.contiguous(torch::MemoryFormat::ChannelsLast));
  }
  return backbone;
}

torch::Tensor run_batched(Backbone& backbone, const torch::Tensor& input, int batch) {
  std::vector<torch::Tensor> outputs;
  for (std::int64_t start = 0; start < input.size(0); start += batch) {
    outputs.push_back(
        backbone.run(input.narrow(0, start, std::min<std::int64_t>(batch, input.size(0) - start))));
  }
  return torch::cat(outputs).contiguous();
}

// Produces the model inputs of one clip: normalised frames and log-mel examples.
struct ClipInputs {
  torch::Tensor frames;    // [T, 3, S, S]
  torch::Tensor examples;  // [T, 1, 96, 64]
};

ClipInputs clip_inputs(const media::SampledClip& clip,
                       const ExtractOptions& o,
                       bool visual,
                       bool audio) {
  ClipInputs in;
  if (visual) {
    const auto rgb =
        torch::from_blob(const_cast<std::uint8_t*>(clip.frames.data()),
                         {clip.segments, clip.frame_size, clip.frame_size, 3}, torch::kUInt8);
    in.frames = normalize_frames(rgb, o.normalization);
  }
  if (audio) in.examples = vggish_examples(clip.audio, clip.segments, clip.samples_per_segment);
  return in;
}

std::vector<std::uint64_t> shape_of(const torch::Tensor& t) {
  std::vector<std::uint64_t> shape;
  for (std::int64_t d = 1; d < t.dim(); ++d)
    shape.push_back(static_cast<std::uint64_t>(t.size(d)));
  return shape;
}

// A bounded queue between the decoding threads and the inference loop.
struct Decoded {
  std::size_t video = 0;
  std::optional<media::SampledClip> clip;
  std::string error;
};

class DecodedQueue {
 public:
  explicit DecodedQueue(std::size_t capacity) : capacity_(capacity) {}
  void push(Decoded item) {
    std::unique_lock<std::mutex> lock(mutex_);
    not_full_.wait(lock, [&] { return items_.size() < capacity_ || closed_; });
    items_.push_back(std::move(item));
    not_empty_.notify_one();
  }
  std::optional<Decoded> pop() {
    std::unique_lock<std::mutex> lock(mutex_);
    not_empty_.wait(lock, [&] { return !items_.empty() || producers_ == 0; });
    if (items_.empty()) return std::nullopt;
    Decoded item = std::move(items_.front());
    items_.pop_front();
    not_full_.notify_one();
    return item;
  }
  void set_producers(int n) { producers_ = n; }
  void producer_done() {
    std::lock_guard<std::mutex> lock(mutex_);
    --producers_;
    not_empty_.notify_all();
  }
  void close() {
    std::lock_guard<std::mutex> lock(mutex_);
    closed_ = true;
    not_full_.notify_all();
  }

 private:
  std::size_t capacity_;
  std::deque<Decoded> items_;
  int producers_ = 0;
  bool closed_ = false;
  std::mutex mutex_;
  std::condition_variable not_full_;
  std::condition_variable not_empty_;
};

}  // namespace

struct ClipFeatureExtractor::Impl {
  ExtractOptions options;
  std::unique_ptr<Backbone> visual;
  std::unique_ptr<Backbone> audio;
  std::vector<ModalityLayout> modalities;
};

ClipFeatureExtractor::ClipFeatureExtractor(const ExtractOptions& o)
    : impl_(std::make_unique<Impl>()) {
  impl_->options = o;
  impl_->visual = make_backbone(o.visual, o.visual_weights, /*visual=*/true, o.seed);
  impl_->audio = make_backbone(o.audio, o.audio_weights, /*visual=*/false, o.seed + 1);
  if (!impl_->visual && !impl_->audio)
    throw std::invalid_argument("both backbones are 'none': nothing to extract");
  // Discover each backbone's output shape on a dummy input of the right size.
  torch::NoGradGuard no_grad;
  if (impl_->visual) {
    const auto out =
        impl_->visual->run(torch::zeros({1, 3, o.sampling.frame_size, o.sampling.frame_size}));
    impl_->modalities.push_back(
        {"visual", shape_of(out), impl_->visual->name(), impl_->visual->weights});
  }
  if (impl_->audio) {
    const auto out = impl_->audio->run(torch::zeros({1, 1, 96, 64}));
    impl_->modalities.push_back(
        {"audio", shape_of(out), impl_->audio->name(), impl_->audio->weights});
  }
}

ClipFeatureExtractor::~ClipFeatureExtractor() = default;

const std::vector<ModalityLayout>& ClipFeatureExtractor::modalities() const {
  return impl_->modalities;
}

VideoFeatures ClipFeatureExtractor::extract(const media::SampledClip& clip,
                                            const std::vector<std::string>& only) {
  torch::NoGradGuard no_grad;
  const ExtractOptions& o = impl_->options;
  VideoFeatures features;
  features.real_seconds = static_cast<float>(clip.real_seconds);
  features.has_audio = clip.has_audio;
  const auto wanted = [&](const char* name) {
    return only.empty() || std::find(only.begin(), only.end(), name) != only.end();
  };
  const bool visual = impl_->visual != nullptr && wanted("visual");
  const bool audio = impl_->audio != nullptr && wanted("audio");
  const ClipInputs inputs = clip_inputs(clip, o, visual, audio);
  auto store = [&](const char* name, Backbone& backbone, const torch::Tensor& input, int batch) {
    const auto out = run_batched(backbone, input, batch).contiguous().to(torch::kFloat32);
    features.modalities[name] =
        std::vector<float>(out.data_ptr<float>(), out.data_ptr<float>() + out.numel());
  };
  if (visual) store("visual", *impl_->visual, inputs.frames, o.batch);
  if (audio) store("audio", *impl_->audio, inputs.examples, o.audio_batch);
  return features;
}

std::map<std::string, at::Tensor> ClipFeatureExtractor::backbone_inputs(
    const media::SampledClip& clip) const {
  const ClipInputs in =
      clip_inputs(clip, impl_->options, impl_->visual != nullptr, impl_->audio != nullptr);
  std::map<std::string, at::Tensor> out;
  if (impl_->visual) out["visual"] = in.frames.contiguous();
  if (impl_->audio) out["audio"] = in.examples.contiguous();
  return out;
}

std::optional<std::pair<at::Tensor, at::Tensor>> ClipFeatureExtractor::input_range(
    const std::string& name) const {
  if (name != "visual" || !impl_->visual) return std::nullopt;
  // Black and white frames of one pixel, normalised as every frame is: [2, 3, 1, 1].
  const auto extremes = torch::tensor({0, 0, 0, 255, 255, 255}, torch::kUInt8).view({2, 1, 1, 3});
  const auto normalised = normalize_frames(extremes, impl_->options.normalization);
  return std::make_pair(std::get<0>(normalised.min(0)), std::get<0>(normalised.max(0)));
}

at::Tensor ClipFeatureExtractor::features_of(const std::string& name, const at::Tensor& input) {
  Backbone* backbone = name == "visual"  ? impl_->visual.get()
                       : name == "audio" ? impl_->audio.get()
                                         : nullptr;
  if (backbone == nullptr)
    throw std::invalid_argument("features_of: this extraction has no '" + name + "' backbone");
  return run_batched(*backbone, input,
                     name == "visual" ? impl_->options.batch : impl_->options.audio_batch)
      .to(torch::kFloat32);
}

void write_failure_report(const fs::path& cache,
                          const std::vector<std::pair<std::string, std::string>>& failures) {
  nlohmann::ordered_json list = nlohmann::ordered_json::array();
  for (const auto& [id, reason] : failures)
    list.push_back({{"video_id", id}, {"reason", reason}});
  core::write_file_atomically(cache.string() + ".failures.json", list.dump(2) + "\n");
}

std::vector<fs::path> list_videos_in(const fs::path& folder) {
  std::error_code ec;
  if (!fs::is_directory(folder, ec))
    throw core::InputError({folder.string(), std::nullopt, ""}, "is not a folder");
  static const std::set<std::string> kExtensions = {".mp4", ".mkv",  ".avi",
                                                    ".mov", ".webm", ".MP4"};
  std::vector<fs::path> videos;
  for (const auto& entry : fs::directory_iterator(folder)) {
    if (entry.is_regular_file() && kExtensions.count(entry.path().extension().string()))
      videos.push_back(entry.path());
  }
  std::sort(videos.begin(), videos.end());
  if (videos.empty())
    throw core::InputError({folder.string(), std::nullopt, ""},
                           "holds no video files (mp4, mkv, avi, mov, webm)");
  return videos;
}

std::vector<fs::path> read_video_list(const fs::path& list) {
  std::ifstream in(list);
  if (!in) throw core::InputError({list.string(), std::nullopt, ""}, "cannot open the video list");
  std::vector<fs::path> videos;
  std::string line;
  while (std::getline(in, line)) {
    line.erase(line.find_last_not_of(" \t\r") + 1);
    if (line.empty() || line[0] == '#') continue;
    const fs::path p(line);
    videos.push_back(p.is_absolute() ? p : list.parent_path() / p);
  }
  if (videos.empty()) throw core::InputError({list.string(), std::nullopt, ""}, "lists no videos");
  return videos;
}

ExtractSummary extract_features(const ExtractOptions& o) {
  const auto start_time = std::chrono::steady_clock::now();
  if (o.videos.empty()) throw std::invalid_argument("no videos to extract");
  if (o.batch <= 0 || o.audio_batch <= 0)
    throw std::invalid_argument("--batch and --audio-batch must be positive");
  CacheLayout layout;
  std::set<std::string> seen;
  for (const fs::path& v : o.videos) {
    const std::string id = v.stem().string();
    if (!seen.insert(id).second)
      throw core::InputError({v.string(), std::nullopt, ""},
                             "a second video with the id '" + id + "'");
    layout.video_ids.push_back(id);
  }
  layout.segments = o.sampling.segments;
  layout.fps = o.sampling.fps;
  layout.sample_rate = o.sampling.sample_rate;
  layout.storage = o.storage;
  layout.attributes["tool"] = "avqa extract";
  layout.attributes["visual_normalization"] = to_string(o.normalization);
  layout.attributes["frame_size"] = std::to_string(o.sampling.frame_size);
  layout.attributes["seed"] = std::to_string(o.seed);  // backbones without weights start from it
  layout.attributes["sampling"] =
      "segment i: frame nearest (i + 0.5) / fps, audio [i, i + 1) / fps; short videos repeat their "
      "last second";

  ClipFeatureExtractor extractor(o);
  ExtractSummary summary;
  layout.modalities = extractor.modalities();
  for (const auto& m : layout.modalities)
    summary.weights.push_back(m.name + ": " + m.backbone + " with " + m.weights);

  std::error_code ec;
  FeatureCacheWriter writer = [&] {
    if (fs::exists(o.out, ec)) {
      if (!o.resume)
        throw core::InputError({o.out.string(), std::nullopt, ""},
                               "already exists; pass --resume to finish it");
      return FeatureCacheWriter::resume(o.out, layout);
    }
    return FeatureCacheWriter::create(o.out, layout);
  }();
  const std::vector<VideoStatus> status = writer.status();
  std::vector<std::size_t> todo;
  for (std::size_t i = 0; i < status.size(); ++i) {
    if (status[i] == VideoStatus::Done) {
      ++summary.skipped;
    } else {
      todo.push_back(i);
    }
  }

  const int jobs = std::max(
      1,
      std::min<int>(static_cast<int>(todo.size()),
                    o.jobs > 0 ? o.jobs : static_cast<int>(std::thread::hardware_concurrency())));
  DecodedQueue queue(static_cast<std::size_t>(2 * jobs));
  queue.set_producers(jobs);
  std::atomic<std::size_t> next{0};
  std::atomic<bool> stop{false};
  std::vector<std::thread> decoders;
  for (int j = 0; j < jobs; ++j) {
    decoders.emplace_back([&] {
      for (std::size_t k = next++; k < todo.size() && !stop; k = next++) {
        Decoded item;
        item.video = todo[k];
        try {
          item.clip = media::sample_clip(o.videos[todo[k]], o.sampling);
        } catch (const std::exception& e) {
          item.error = e.what();
        }
        queue.push(std::move(item));
      }
      queue.producer_done();
    });
  }

  core::ProgressLine progress("extract", todo.size(), "videos");
  std::exception_ptr fatal;
  std::size_t finished = 0;
  try {
    torch::NoGradGuard no_grad;
    while (auto item = queue.pop()) {
      const std::string& id = layout.video_ids[item->video];
      if (!item->clip) {
        summary.failures.emplace_back(id, item->error);
        writer.mark_failed(item->video);
      } else {
        const VideoFeatures features = extractor.extract(*item->clip);
        writer.write(item->video, features);
        ++summary.extracted;
      }
      ++finished;
      if (o.progress)
        progress.update(finished, summary.failures.empty()
                                      ? ""
                                      : "(" + std::to_string(summary.failures.size()) + " failed)");
    }
  } catch (...) {
    fatal = std::current_exception();
    stop = true;
    queue.close();
    while (queue.pop()) {
    }
  }
  for (std::thread& t : decoders)
    t.join();
  if (fatal) std::rethrow_exception(fatal);
  if (o.progress) progress.finish();
  write_failure_report(o.out, summary.failures);
  summary.seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start_time).count();
  return summary;
}

}  // namespace avqa::features
