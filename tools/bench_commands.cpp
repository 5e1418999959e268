// `avqa bench extract` and `avqa bench cache-read`: feature extraction figures, side by side.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <random>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <torch/torch.h>

#include "avclass/balance_benchmark.h"
#include "avclass/robust_benchmark.h"
#include "avqa/st_avqa_net.h"
#include "avqa/trainer.h"
#include "core/child_process.h"
#include "core/input_error.h"
#include "core/runtime/torch_runtime.h"
#include "core/train/balance.h"
#include "core/train/robust_training.h"
#include "datasets/features/extractor.h"
#include "datasets/features/log_mel.h"
#include "tools/commands.h"

namespace avqa::tools {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

double since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

struct BenchExtractArgs {
  std::string videos;
  int count = 20;
  int seconds = 10;
  int size = 224;
};

// A child process without a shell: paths with quotes or spaces stay one argument.
void run(const std::vector<std::string>& argv) {
  const core::ProcessResult r = core::run_process(argv);
  if (r.exit_code != 0) {
    std::string command;
    for (const auto& a : argv)
      command += (command.empty() ? "" : " ") + a;
    throw std::runtime_error("command failed (exit " + std::to_string(r.exit_code) +
                             "): " + command + "\n" + r.standard_error);
  }
}

// The original pipeline: ffmpeg writes 1 fps JPEG frames and a 16 kHz WAV to disk, then the
// frames are read back, resized and run through the same backbones.
double original_pipeline(const std::vector<fs::path>& videos,
                         const BenchExtractArgs& a,
                         const fs::path& work,
                         features::ResNet18& resnet,
                         features::Vggish& vggish,
                         double& decode_seconds) {
  torch::NoGradGuard no_grad;
  const auto start = Clock::now();
  decode_seconds = 0;
  for (const fs::path& video : videos) {
    const fs::path dir = work / video.stem();
    fs::create_directories(dir);
    const auto decode_start = Clock::now();
    run({"ffmpeg", "-v", "error", "-y", "-i", video.string(), "-vf", "fps=1", "-q:v", "2",
         (dir / "%08d.jpg").string()});
    run({"ffmpeg", "-v", "error", "-y", "-i", video.string(), "-ar", "16000", "-ac", "1",
         (dir / "audio.wav").string()});
    decode_seconds += since(decode_start);
    std::vector<torch::Tensor> frames;
    for (int i = 1; i <= a.seconds; ++i) {
      char name[32];
      std::snprintf(name, sizeof name, "%08d.jpg", i);
      cv::Mat image = cv::imread((dir / name).string(), cv::IMREAD_COLOR);
      if (image.empty() && !frames.empty()) {  // short video: repeat the last second
        frames.push_back(frames.back());
        continue;
      }
      if (image.empty()) throw std::runtime_error("ffmpeg wrote no frames for " + video.string());
      cv::cvtColor(image, image, cv::COLOR_BGR2RGB);
      cv::resize(image, image, cv::Size(a.size, a.size), 0, 0, cv::INTER_LINEAR);
      frames.push_back(torch::from_blob(image.data, {a.size, a.size, 3}, torch::kUInt8).clone());
    }
    const auto input =
        features::normalize_frames(torch::stack(frames), features::Normalization::Kinetics);
    (void)resnet->forward(input);
    const media::DecodedMedia wav =
        media::decode_media(dir / "audio.wav", {/*video=*/false, /*audio=*/true, 16000});
    std::vector<float> audio = wav.samples;
    audio.resize(static_cast<std::size_t>(a.seconds) * 16000, 0.f);
    (void)vggish->forward(features::vggish_examples(audio, a.seconds, 16000));
  }
  return since(start);
}

void run_bench_extract(const BenchExtractArgs& a, const GlobalOptions& global) {
  try {
    run({"ffmpeg", "-version"});
  } catch (const std::runtime_error&) {
    throw std::runtime_error(
        "the comparison runs the ffmpeg command line: install Debian's ffmpeg package");
  }
  const int threads = runtime::configure_torch({global.threads});
  std::vector<fs::path> videos = features::list_videos_in(a.videos);
  if (videos.empty())
    throw core::InputError({a.videos, std::nullopt, ""}, "holds no video to time");
  if (static_cast<int>(videos.size()) > a.count) videos.resize(static_cast<std::size_t>(a.count));
  const fs::path work =
      fs::temp_directory_path() / ("avqa_bench_extract_" + std::to_string(::getpid()));
  fs::remove_all(work);
  fs::create_directories(work);

  torch::manual_seed(0);
  features::ResNet18 resnet;
  resnet->eval();
  features::Vggish vggish;
  vggish->eval();

  features::ExtractOptions o;
  o.videos = videos;
  o.out = work / "features.h5";
  o.sampling.segments = a.seconds;
  o.sampling.frame_size = a.size;
  o.progress = false;

  // Decoding alone: ffmpeg's own 1 fps decode against the in-process sampler.
  auto start = Clock::now();
  for (const fs::path& v : videos)
    run({"ffmpeg", "-v", "error", "-i", v.string(), "-vf", "fps=1", "-f", "null", "-"});
  const double ffmpeg_decode = since(start);
  start = Clock::now();
  std::vector<media::SampledClip> clips;
  for (const fs::path& v : videos)
    clips.push_back(media::sample_clip(v, o.sampling));
  const double our_decode = since(start);

  // The backbones alone on the decoded clips: no pipeline that runs them can beat this time,
  // so original / backbones is the ceiling of the end-to-end speed-up on these clips.
  // Building them (VGGish's 72 million parameters drawn at random, or weights read) is a cost
  // extract pays once per run too: timed apart, so the pipeline's own cost shows.
  double backbones = 0, building = 0;
  {
    start = Clock::now();
    features::ClipFeatureExtractor extractor(o);
    (void)extractor.extract(clips.front());  // warm-up: first-call allocations
    building = since(start);
    start = Clock::now();
    for (const media::SampledClip& clip : clips)
      (void)extractor.extract(clip);
    backbones = since(start);
  }
  clips.clear();

  double original_decode = 0;
  const double original = original_pipeline(videos, a, work, resnet, vggish, original_decode);
  start = Clock::now();
  (void)features::extract_features(o);
  const double ours = since(start);
  fs::remove_all(work);

  std::printf(
      "%zu videos, %d s each, %dx%d frames, ResNet-18 (14x14) + VGGish, %d torch thread(s)\n",
      videos.size(), a.seconds, a.size, a.size, threads);
  std::printf("%-52s %9s %11s\n", "pipeline", "seconds", "videos/s");
  std::printf("%-52s %9.2f %11.2f\n", "original: ffmpeg -> JPEG + WAV files -> backbones", original,
              videos.size() / original);
  std::printf("%-52s %9.2f %11.2f\n", "  of which ffmpeg writing JPEG frames and WAV",
              original_decode, videos.size() / original_decode);
  std::printf("%-52s %9.2f %11.2f\n", "avqa extract (in-process decode, cache writes)", ours,
              videos.size() / ours);
  std::printf("%-52s %9.2f %11.2f\n", "decode only: ffmpeg -vf fps=1 -f null", ffmpeg_decode,
              videos.size() / ffmpeg_decode);
  std::printf("%-52s %9.2f %11.2f\n", "decode only: avqa sample_clip (frames + audio)", our_decode,
              videos.size() / our_decode);
  std::printf("%-52s %9.2f %11.2f\n", "backbones alone on decoded clips (avqa's)", backbones,
              videos.size() / backbones);
  std::printf("%-52s %9.2f\n", "  building them and a first clip, once per run", building);
  std::printf(
      "avqa extract against the backbones alone: %.2fx; against building them + the "
      "backbones: %.2fx\n",
      ours / backbones, ours / (building + backbones));
  std::printf("speed-up end to end: %.2fx (ceiling with these backbones: %.2fx)\n", original / ours,
              original / backbones);
}

struct BenchReadArgs {
  std::string cache;
  int segments = 10;
  int reads = 2000;
};

void run_bench_cache_read(const BenchReadArgs& a) {
  const features::FeatureCacheReader reader(a.cache);
  const auto& layout = reader.layout();
  std::vector<std::size_t> done;
  for (std::size_t i = 0; i < reader.status().size(); ++i) {
    if (reader.status()[i] == features::VideoStatus::Done) done.push_back(i);
  }
  if (done.empty()) throw std::runtime_error(a.cache + ": no extracted video to read");
  // ST-AVQA's sampling: `segments` rows evenly spread, e.g. 0, 6, ..., 54 of 60.
  std::vector<int> rows;
  for (int k = 0; k < std::min(a.segments, layout.segments); ++k)
    rows.push_back(k * layout.segments / std::min(a.segments, layout.segments));
  std::mt19937 rng(0);
  for (const std::size_t v : done) {  // warm the page cache
    for (const auto& m : layout.modalities)
      (void)reader.read(m.name, v, rows);
  }
  const auto start = Clock::now();
  std::size_t bytes = 0;
  for (int r = 0; r < a.reads; ++r) {
    const std::size_t v = done[rng() % done.size()];
    for (const auto& m : layout.modalities)
      bytes += reader.read(m.name, v, rows).size() * sizeof(float);
  }
  const double seconds = since(start);
  std::printf(
      "%d random reads of %zu segments (all modalities) from %zu videos: %.1f videos/s, %.0f MB/s "
      "of float32\n",
      a.reads, rows.size(), done.size(), a.reads / seconds, bytes / seconds / 1e6);
  std::uintmax_t per_video_npy = 0;
  for (const auto& m : layout.modalities)
    per_video_npy += static_cast<std::uintmax_t>(layout.segments) * m.segment_size() * 4 + 128;
  std::printf(
      "cache %.1f MB for %zu videos (%.2f MB/video); the original .npy float32 layout: %.2f "
      "MB/video (ratio %.2f)\n",
      static_cast<double>(fs::file_size(a.cache)) / 1e6, layout.video_ids.size(),
      static_cast<double>(fs::file_size(a.cache)) / 1e6 /
          static_cast<double>(layout.video_ids.size()),
      static_cast<double>(per_video_npy) / 1e6,
      static_cast<double>(fs::file_size(a.cache)) / static_cast<double>(layout.video_ids.size()) /
          static_cast<double>(per_video_npy));
}

struct BenchNetArgs {
  int batch = 64;
  int repeats = 10;
  bool negatives = true;
};

double median(std::vector<double> v) {
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(v.size() / 2), v.end());
  return v[v.size() / 2];
}

// The full-size network (original widths, 10 segments, 14x14 maps) on random inputs of the real
// shapes, as the Python reference was timed (st-avqa.md section 13).
void run_bench_net(const BenchNetArgs& a, bool train, const GlobalOptions& global) {
  const int threads = runtime::configure_torch({global.threads});
  torch::manual_seed(0);
  net::StAvqaNet model;
  const std::int64_t b = a.batch;
  const auto audio = torch::randn({b, 10, 128});
  const auto visual = torch::randn({b, 10, 512, 14, 14});
  const auto negative = torch::randn({b, 10, 512, 14, 14});
  const auto question = torch::randint(0, 93, {b, 14});
  const auto labels = torch::randint(0, 42, {b});
  torch::optim::Adam adam(model->parameters(), torch::optim::AdamOptions(1e-4));
  std::vector<double> times;
  for (int r = 0; r < a.repeats + 2; ++r) {  // two warm-up runs
    const auto start = Clock::now();
    if (train) {
      model->train();
      adam.zero_grad();
      const net::StAvqaOutput out = model->forward(audio, visual, question, negative);
      const auto loss = net::training_loss(out, labels, 0.5);
      loss.backward();
      adam.step();
    } else {
      model->eval();
      torch::NoGradGuard no_grad;
      (void)model->forward(audio, visual, question, a.negatives ? negative : torch::Tensor());
    }
    if (r >= 2) times.push_back(since(start));
  }
  const double m = median(times);
  if (train) {
    std::printf(
        "train step, batch %d, full-size ST-AVQA, %d thread(s): median %.3f s of %d (the "
        "original beside it: bench/original.sh)\n",
        a.batch, threads, m, a.repeats);
  } else {
    std::printf(
        "inference, batch %d, full-size ST-AVQA%s, %d thread(s): median %.2f ms of %d (the "
        "original beside it: bench/original.sh)\n",
        a.batch, a.negatives ? " with the negative branch" : "", threads, m * 1e3, a.repeats);
  }
}

void run_bench_balance(avclass::BalanceBenchmarkOptions o,
                       const std::vector<std::string>& methods,
                       const GlobalOptions& global) {
  runtime::configure_torch({global.threads});
  if (!methods.empty()) {
    o.methods.clear();
    for (const auto& m : methods)
      o.methods.push_back(train::parse_balance_method(m));
  }
  const auto seconds_since = [](std::chrono::steady_clock::time_point t) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
  };
  const auto start = std::chrono::steady_clock::now();
  const auto rows = avclass::run_balance_benchmark(o);
  std::printf("%s", avclass::balance_table_markdown(rows).c_str());
  std::printf("\n%zu methods x %d seeds, %d epochs, in %.0f s; table.md and accuracy.png in %s\n",
              rows.size(), o.seeds, o.epochs, seconds_since(start), o.out.c_str());
  if (!o.avqa_config.empty()) {
    const auto avqa_start = std::chrono::steady_clock::now();
    const auto avqa_rows = avclass::run_avqa_balance_benchmark(o);
    std::printf("\nST-AVQA, %d epochs, %d seeds:\n%s", o.avqa_epochs, o.avqa_seeds,
                avclass::avqa_balance_table_markdown(avqa_rows).c_str());
    std::printf("\n%zu methods x %d seeds, %d epochs, in %.0f s; table-avqa.md in %s\n",
                avqa_rows.size(), o.avqa_seeds, o.avqa_epochs, seconds_since(avqa_start),
                o.out.c_str());
  }
}

void run_bench_robust(const avclass::RobustBenchmarkOptions& o, const GlobalOptions& global) {
  const int threads = runtime::configure_torch({global.threads});
  for (const auto& m : o.methods) {
    train::RobustTrainingOptions check;
    check.robust = m;
    check.robust_modalities = o.adv_modalities;
    train::validate_robust_training(check);
  }
  std::fprintf(stderr, "%d thread(s)\n", threads);
  if (!o.data.empty()) {
    const auto result = avclass::run_robust_benchmark(o);
    std::printf("%s", avclass::robust_benchmark_markdown(result).c_str());
  }
  if (!o.avqa_config.empty()) {
    const auto result = avclass::run_avqa_robust_benchmark(o);
    std::printf("\n%s", avclass::robust_benchmark_markdown(result).c_str());
  }
  std::fprintf(stderr, "tables and plots in %s\n", o.out.c_str());
}

}  // namespace

void add_bench_extract_commands(CLI::App& bench, const GlobalOptions& global) {
  auto balance = std::make_shared<avclass::BalanceBenchmarkOptions>();
  auto methods = std::make_shared<std::vector<std::string>>();
  CLI::App* bal = bench.add_subcommand(
      "balance",
      "Every balanced-learning method x seeds on a generated classification set (avqa generate "
      "--classes N, then avqa extract): test accuracy, macro-F1, each modality alone and its "
      "probe, time per epoch, as a Markdown table and a PNG (bench/balance.sh does it all)");
  bal->add_option("--data", balance->data, "Generated dataset folder")->required();
  bal->add_option("--cache", balance->cache, "Its feature cache")->required();
  bal->add_option("--out", balance->out, "Folder for the runs, table.md and accuracy.png")
      ->required();
  bal->add_option("--methods", *methods, "Methods (default: all)")->delimiter(',');
  bal->add_option("--seeds", balance->seeds, "Seeds per method")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  bal->add_option("--epochs", balance->epochs, "Epochs per run")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  bal->add_option("--batch", balance->batch, "Batch size")->capture_default_str();
  bal->add_option("--lr", balance->learning_rate, "Learning rate")->capture_default_str();
  bal->add_option("--optimizer", balance->optimizer, "adam, adamw or sgd")->capture_default_str();
  bal->add_option("--weight-decay", balance->weight_decay, "Weight decay")->capture_default_str();
  bal->add_option("--fusion", balance->fusion, "sum, concat, film or gated")->capture_default_str();
  bal->add_option("--visual-pooling", balance->visual_pooling, "mean, max or mean-max")
      ->capture_default_str();
  bal->add_option("--width", balance->classifier_width, "Encoder width")->capture_default_str();
  bal->add_option("--warmup-epochs", balance->warmup_epochs, "OPM/TPAMI-OGM/valuation warm-up")
      ->capture_default_str();
  bal->add_option("--relearn-every", balance->relearn_every, "Re-learning period")
      ->capture_default_str();
  bal->add_option("--ogm-alpha", balance->ogm_alpha, "OGM, OGM-GE and TPAMI-OGM alpha")
      ->capture_default_str();
  bal->add_option("--avqa-config", balance->avqa_config,
                  "Also ST-AVQA on generated question-answering data: a run configuration (e.g. "
                  "the demo's build/demo/run/run.json), retrained per method x seed");
  bal->add_option("--avqa-epochs", balance->avqa_epochs, "Epochs of each ST-AVQA run")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  bal->add_option("--avqa-seeds", balance->avqa_seeds, "Seeds of the ST-AVQA part")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  bal->callback([balance, methods, &global] { run_bench_balance(*balance, *methods, global); });

  auto robust = std::make_shared<avclass::RobustBenchmarkOptions>();
  CLI::App* rob = bench.add_subcommand(
      "robust",
      "Joint training against robust training (CRMT, adversarial) x seeds, each run scored by "
      "robust-eval on the test split (l2 PGD per modality, missing modalities, certified "
      "accuracy): a Markdown table with the preferred modality's summary and PNGs of accuracy "
      "against radius (bench/robust.sh does it all)");
  rob->add_option("--data", robust->data, "Generated classification dataset folder");
  rob->add_option("--cache", robust->cache, "Its feature cache");
  rob->add_option("--out", robust->out, "Folder for the runs, tables and plots")->required();
  rob->add_option("--methods", robust->methods, "--robust methods (none = joint training)")
      ->delimiter(',')
      ->capture_default_str();
  rob->add_option("--seeds", robust->seeds, "Seeds per method")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  rob->add_option("--epochs", robust->epochs, "Epochs per classification run")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  rob->add_option("--adv-radius", robust->adv_radius,
                  "adv, crmt-at: training attack radius, a share of each input's norm")
      ->capture_default_str();
  rob->add_option("--adv-ball", robust->adv_ball,
                  "adv, crmt-at: the training attack's ball, joint or per-modality (avqa train "
                  "--robust-ball)")
      ->check(CLI::IsMember({"joint", "per-modality"}))
      ->capture_default_str();
  rob->add_option("--adv-share", robust->adv_share,
                  "adv, crmt-at: share of each batch trained on attacked copies (avqa train "
                  "--robust-share)")
      ->check(CLI::Validator(
          [](std::string& value) {
            const double share = std::strtod(value.c_str(), nullptr);
            return share > 0 && share <= 1 ? std::string() : "must be in (0, 1], not " + value;
          },
          "in (0, 1]"))
      ->capture_default_str();
  rob->add_option("--adv-clean-weight", robust->adv_clean_weight,
                  "adv, crmt-at: weight of the clean batch's loss beside the attacked one's (avqa "
                  "train --robust-clean-weight)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  rob->add_option("--adv-modalities", robust->adv_modalities,
                  "adv, crmt-at: the modalities the training attack perturbs, comma-separated "
                  "(avqa train --robust-modalities; default: all)");
  rob->add_option("--crmt-init", robust->crmt_init, "crmt methods: initial integration weights")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  rob->add_option("--radii", robust->radii, "Evaluation radii, shares of each input's norm")
      ->delimiter(',')
      ->capture_default_str();
  rob->add_option("--steps", robust->steps, "PGD steps of the evaluation attacks")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  rob->add_option("--avqa-config", robust->avqa_config,
                  "Also ST-AVQA: a run configuration (e.g. the demo's build/demo/run/run.json), "
                  "retrained per method x seed");
  rob->add_option("--avqa-epochs", robust->avqa_epochs, "Epochs of each ST-AVQA run")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  rob->add_option("--avqa-seeds", robust->avqa_seeds, "Seeds of the ST-AVQA part")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  rob->callback([robust, &global, rob] {
    if (robust->data.empty() != robust->cache.empty())
      throw CLI::ValidationError("--data and --cache go together");
    if (robust->data.empty() && robust->avqa_config.empty())
      throw CLI::ValidationError("nothing to run: give --data and --cache, or --avqa-config");
    run_bench_robust(*robust, global);
  });

  auto a = std::make_shared<BenchExtractArgs>();
  CLI::App* extract = bench.add_subcommand("extract",
                                           "Feature extraction, side by side: the original "
                                           "ffmpeg-to-JPEG pipeline against avqa extract");
  extract
      ->add_option("--videos", a->videos, "Folder of videos (e.g. a generated dataset's videos/)")
      ->required();
  extract->add_option("--count", a->count, "Videos to use")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  extract->add_option("--seconds", a->seconds, "Seconds sampled per video")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  extract->add_option("--size", a->size, "Frame size")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  extract->callback([a, &global] { run_bench_extract(*a, global); });

  auto r = std::make_shared<BenchReadArgs>();
  CLI::App* read =
      bench.add_subcommand("cache-read", "Random reads of sampled segments from a feature cache");
  read->add_option("--cache", r->cache, "HDF5 feature cache")->required();
  read->add_option("--segments", r->segments, "Segments read per video (spread evenly)")
      ->capture_default_str();
  read->add_option("--reads", r->reads, "Random video reads")->capture_default_str();
  read->callback([r] { run_bench_cache_read(*r); });

  auto t = std::make_shared<BenchNetArgs>();
  CLI::App* step = bench.add_subcommand(
      "train-step", "One ST-AVQA training step (forward, both losses, backward, Adam)");
  step->add_option("--batch", t->batch, "Batch size")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  step->add_option("--repeats", t->repeats, "Timed steps (median reported)")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  step->callback([t, &global] { run_bench_net(*t, /*train=*/true, global); });
  auto i = std::make_shared<BenchNetArgs>();
  i->batch = 1;
  i->repeats = 50;
  CLI::App* infer = bench.add_subcommand("infer", "ST-AVQA inference");
  infer->add_option("--batch", i->batch, "Batch size")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  infer->add_option("--repeats", i->repeats, "Timed runs (median reported)")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  infer
      ->add_flag("--negatives,!--no-negatives", i->negatives,
                 "Also run the negative branch, as the original test() does")
      ->capture_default_str();
  infer->callback([i, &global] { run_bench_net(*i, /*train=*/false, global); });
}

}  // namespace avqa::tools
