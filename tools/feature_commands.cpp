// `avqa extract` and `avqa cache info|verify`: features of videos in an HDF5 cache.
#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <memory>

#include <CLI/CLI.hpp>

#include "avqa/grounding_diagnostics.h"
#include "avqa/oracle_features.h"
#include "core/runtime/torch_runtime.h"
#include "datasets/annotations.h"
#include "datasets/features/backbone_pretraining.h"
#include "datasets/features/extractor.h"
#include "datasets/features/feature_cache.h"
#include "datasets/features/npy_import.h"
#include "datasets/synthetic/truth.h"
#include "tools/commands.h"

namespace avqa::tools {
namespace {

namespace fs = std::filesystem;

struct ExtractArgs {
  features::ExtractOptions options;
  std::string videos;
  std::string list;
  std::string out;
  std::string visual_weights;
  std::string audio_weights;
  std::string normalization = "kinetics";
  std::string dtype = "f16";
  double seconds = 60;
};

void run_extract(ExtractArgs& a, const GlobalOptions& global) {
  runtime::configure_torch({global.threads});
  features::ExtractOptions& o = a.options;
  if (a.videos.empty() == a.list.empty())
    throw std::invalid_argument("give either --videos DIR or --list FILE");
  o.videos =
      a.videos.empty() ? features::read_video_list(a.list) : features::list_videos_in(a.videos);
  o.out = a.out;
  o.visual_weights = a.visual_weights;
  o.audio_weights = a.audio_weights;
  o.normalization = features::parse_normalization(a.normalization);
  o.storage = features::parse_storage_type(a.dtype);
  if (a.seconds <= 0 || o.sampling.fps <= 0)
    throw std::invalid_argument("--seconds and --fps must be positive");
  o.sampling.segments = static_cast<int>(std::lround(a.seconds * o.sampling.fps));
  const features::ExtractSummary s = features::extract_features(o);
  for (const std::string& w : s.weights) {
    std::printf("%s%s\n", w.c_str(),
                w.find("random-init") != std::string::npos
                    ? "  (untrained: these features carry no meaning learnt from data)"
                    : "");
  }
  std::printf(
      "extracted %zu videos in %.1f s (%.2f videos/s), %zu already done, %zu failed -> %s\n",
      s.extracted, s.seconds, s.seconds > 0 ? s.extracted / s.seconds : 0.0, s.skipped,
      s.failures.size(), o.out.c_str());
  for (const auto& [id, reason] : s.failures)
    std::printf("  failed %s: %s\n", id.c_str(), reason.c_str());
  if (!s.failures.empty()) std::printf("failures listed in %s.failures.json\n", o.out.c_str());
}

void print_info(const fs::path& path) {
  const features::FeatureCacheReader reader(path);
  const features::CacheLayout& l = reader.layout();
  std::size_t done = 0, pending = 0, failed = 0, without_audio = 0;
  for (std::size_t i = 0; i < reader.status().size(); ++i) {
    const auto s = reader.status()[i];
    done += s == features::VideoStatus::Done;
    pending += s == features::VideoStatus::Pending;
    failed += s == features::VideoStatus::Failed;
    without_audio += s == features::VideoStatus::Done && !reader.has_audio(i);
  }
  std::printf("%s\n  videos %zu: %zu done, %zu pending, %zu failed; %zu without an audio track\n",
              path.c_str(), l.video_ids.size(), done, pending, failed, without_audio);
  std::printf("  %d segments at %.3g per second, audio at %d Hz, stored as %s, %.1f MB on disk\n",
              l.segments, l.fps, l.sample_rate, features::to_string(l.storage),
              static_cast<double>(fs::file_size(path)) / 1e6);
  for (const auto& m : l.modalities) {
    std::string shape;
    for (const auto d : m.segment_shape)
      shape += (shape.empty() ? "" : "x") + std::to_string(d);
    std::printf("  %-7s [videos, %d, %s] by %s, weights %s\n", m.name.c_str(), l.segments,
                shape.c_str(), m.backbone.c_str(), m.weights.c_str());
  }
  for (const auto& [k, v] : l.attributes)
    std::printf("  %s: %s\n", k.c_str(), v.c_str());
}

void run_verify(const fs::path& path) {
  const features::FeatureCacheReader reader(path);
  const std::vector<std::string> problems = features::verify_cache(reader);
  for (const auto& problem : problems)
    std::cerr << "avqa: " << path.string() << ": " << problem << "\n";
  if (!problems.empty()) {
    std::cerr << "avqa: " << problems.size() << " problem(s) in " << path.string() << "\n";
    throw ExitStatus(2);
  }
  std::printf("ok %s: %zu videos, every feature finite\n", path.c_str(), reader.status().size());
}

struct ProbeCellsArgs {
  std::string cache;
  std::string data;
  std::string train_split = "train";
  std::string test_split = "test";
  net::CellProbeOptions options;
  bool with_audio = false;
};

void run_probe_cells(const ProbeCellsArgs& a, const GlobalOptions& global) {
  runtime::configure_torch({global.threads});
  const fs::path annotations = fs::path(a.data) / "annotations";
  const auto split = [&](const std::string& name) {
    return data::video_ids(data::load_annotations(annotations / ("avqa-" + name + ".json")));
  };
  const auto train = split(a.train_split);  // in this order, so the first problem is reported
  const auto test = split(a.test_split);
  const fs::path truth = fs::path(a.data) / "truth";
  const net::CellProbeReport r = net::probe_cells(a.cache, truth, train, test, a.options);
  std::fputs(net::format_cell_probe(r, a.options).c_str(), stdout);
  if (a.with_audio)
    std::fputs(net::format_audio_probe(net::probe_audio(a.cache, truth, train, test)).c_str(),
               stdout);
}

struct OracleArgs {
  std::string data;
  std::string out;
  net::OracleFeatureOptions options;
};

void run_oracle(const OracleArgs& a) {
  const std::vector<std::string> ids = synthetic::truth_video_ids(a.data);
  std::error_code ec;
  if (fs::exists(a.out, ec))
    throw std::invalid_argument(a.out + " exists: give another --out or remove it");
  net::write_oracle_cache(fs::path(a.data) / "truth", ids, a.out, a.options);
  std::printf("wrote %s: %zu videos, DIAGNOSTIC features holding the generator's truth\n",
              a.out.c_str(), ids.size());
}

}  // namespace

void add_feature_commands(CLI::App& app, const GlobalOptions& global) {
  auto a = std::make_shared<ExtractArgs>();
  features::ExtractOptions& o = a->options;
  CLI::App* extract = app.add_subcommand(
      "extract",
      "Extract audio (VGGish) and visual (ResNet-18) features of videos into an HDF5 cache");
  extract->add_option("--videos", a->videos, "Folder of videos (mp4, mkv, avi, mov, webm)");
  extract->add_option("--list", a->list, "File listing video paths, one per line");
  extract->add_option("--out", a->out, "HDF5 cache to write")->required();
  extract
      ->add_option("--visual", o.visual,
                   "resnet18 (14x14 maps), resnet18-7x7, torchscript:FILE or none")
      ->capture_default_str();
  extract->add_option("--visual-weights", a->visual_weights,
                      "ResNet-18 weights: torch.save state-dict or TorchScript (default: random)");
  extract->add_option("--audio", o.audio, "vggish, torchscript:FILE or none")
      ->capture_default_str();
  extract->add_option("--audio-weights", a->audio_weights,
                      "VGGish weights: torch.save state-dict or TorchScript (default: random)");
  extract
      ->add_option("--normalization", a->normalization,
                   "Frame normalisation: kinetics (the original script's) or imagenet")
      ->check(CLI::IsMember({"kinetics", "imagenet"}))
      ->capture_default_str();
  extract
      ->add_option("--seconds", a->seconds,
                   "Seconds sampled per video (shorter videos repeat their last second)")
      ->capture_default_str();
  extract->add_option("--fps", o.sampling.fps, "Segments per second")->capture_default_str();
  extract->add_option("--size", o.sampling.frame_size, "Frame size fed to the visual backbone")
      ->capture_default_str();
  extract->add_option("--dtype", a->dtype, "Storage: f16 or f32")
      ->check(CLI::IsMember({"f16", "f32", "float16", "float32"}))
      ->capture_default_str();
  extract->add_option("--jobs", o.jobs, "Decoding threads (0 = all CPUs)")->capture_default_str();
  extract->add_option("--batch", o.batch, "Frames per visual backbone call")->capture_default_str();
  extract->add_option("--audio-batch", o.audio_batch, "Audio examples per audio backbone call")
      ->capture_default_str();
  extract->add_flag("--resume", o.resume, "Finish an interrupted cache instead of refusing it");
  extract->add_option("--seed", o.seed, "Seed of the random initialisation used without weights")
      ->capture_default_str();
  extract->callback([a, &global] { run_extract(*a, global); });

  auto imp = std::make_shared<features::ImportOptions>();
  auto imp_args =
      std::make_shared<std::array<std::string, 4>>();  // audio dir, visual dir, out, dtype
  (*imp_args)[3] = "f16";
  CLI::App* import_cmd = app.add_subcommand("import-npy",
                                            "Import the original per-video .npy features (VGGish "
                                            "[T,128], res18_14x14 [T,512,14,14]) into a cache");
  import_cmd->add_option("--audio-dir", (*imp_args)[0], "Folder of <video_id>.npy audio features");
  import_cmd->add_option("--visual-dir", (*imp_args)[1],
                         "Folder of <video_id>.npy visual features");
  import_cmd->add_option("--out", (*imp_args)[2], "HDF5 cache to write")->required();
  import_cmd->add_option("--dtype", (*imp_args)[3], "Storage: f16 or f32")
      ->check(CLI::IsMember({"f16", "f32"}))
      ->capture_default_str();
  import_cmd
      ->add_option("--fps", imp->fps, "What one row of the arrays stands for, in rows per second")
      ->capture_default_str();
  import_cmd->callback([imp, imp_args] {
    imp->audio_dir = (*imp_args)[0];
    imp->visual_dir = (*imp_args)[1];
    imp->out = (*imp_args)[2];
    imp->storage = features::parse_storage_type((*imp_args)[3]);
    const features::ExtractSummary s = features::import_npy(*imp);
    std::printf("imported %zu videos, %zu failed -> %s\n", s.extracted, s.failures.size(),
                imp->out.c_str());
    for (const auto& [id, reason] : s.failures)
      std::printf("  failed %s: %s\n", id.c_str(), reason.c_str());
  });

  auto pre = std::make_shared<features::PretrainOptions>();
  auto pre_paths = std::make_shared<std::array<std::string, 2>>();
  CLI::App* pretrain =
      app.add_subcommand("pretrain-backbones",
                         "Train the built-in ResNet-18 and VGGish on a generated dataset's truth "
                         "(which instruments are visible / sounding)\n"
                         "and save weights for `avqa extract`; for when pretrained "
                         "ImageNet/AudioSet weights are not at hand");
  pretrain->add_option("--data", (*pre_paths)[0], "Dataset written by avqa generate")->required();
  pretrain
      ->add_option("--out", (*pre_paths)[1],
                   "Folder for resnet18.pt, vggish.pt and pretraining.json")
      ->required();
  pretrain->add_option("--epochs", pre->epochs, "Passes over the training frames")
      ->capture_default_str();
  pretrain->add_option("--batch", pre->batch, "Frames (and audio seconds) per step")
      ->capture_default_str();
  pretrain->add_option("--lr", pre->learning_rate, "Adam learning rate")->capture_default_str();
  pretrain
      ->add_option("--audio-epochs", pre->audio_epochs,
                   "Passes over the training audio, if VGGish should train longer or shorter than "
                   "ResNet-18 (0 = --epochs)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  pretrain
      ->add_option("--audio-lr", pre->audio_learning_rate, "VGGish's Adam learning rate (0 = --lr)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  pretrain
      ->add_option("--audio-mix", pre->audio_mix,
                   "Share of each audio batch replaced by mixtures of two training seconds, "
                   "labelled with both seconds' instruments (0 = off)")
      ->check(CLI::Range(0.0, 1.0))
      ->capture_default_str();
  pretrain->add_option("--size", pre->frame_size, "Training frame size")->capture_default_str();
  pretrain
      ->add_option("--max-videos", pre->max_videos,
                   "Use at most this many training videos (0 = all)")
      ->capture_default_str();
  pretrain->add_option("--seed", pre->seed, "Random seed")->capture_default_str();
  pretrain->add_option("--corpus", pre->corpora,
                       "Another dataset written by avqa generate (another --seed), learnt from "
                       "whole: more scenes for the backbones, as ImageNet is for real data; "
                       "repeatable");
  auto objective = std::make_shared<std::string>("cells");
  pretrain
      ->add_option("--objective", *objective,
                   "What ResNet-18 learns: frames (which instruments a frame shows) or cells "
                   "(that, and which instrument each cell of its map lies on)")
      ->check(CLI::IsMember({"frames", "cells"}))
      ->capture_default_str();
  pretrain->callback([pre, pre_paths, objective, &global] {
    runtime::configure_torch({global.threads});
    pre->data = (*pre_paths)[0];
    pre->out = (*pre_paths)[1];
    pre->objective = features::parse_pretrain_objective(*objective);
    const features::PretrainReport r = features::pretrain_backbones(*pre);
    std::printf(
        "trained on %zu frames / seconds of audio (the train split and %zu corpus "
        "videos), evaluated on %zu (val split)\n",
        r.train_frames, r.corpus_videos, r.val_frames);
    for (std::size_t e = 0; e < r.epochs.size(); ++e) {
      const auto& s = r.epochs[e];
      const auto loss = [](bool trained, double value) {
        char text[32] = "-";
        if (trained) std::snprintf(text, sizeof text, "%.4f", value);
        return std::string(text);
      };
      std::printf("  epoch %zu: loss visual %s audio %s; val micro-F1 visible %.3f sounding %.3f",
                  e + 1, loss(s.visual_trained, s.visual_loss).c_str(),
                  loss(s.audio_trained, s.audio_loss).c_str(), s.visual_val_f1, s.audio_val_f1);
      if (pre->objective == features::PretrainObjective::Cells && s.visual_trained)
        std::printf("; cells: loss %.4f, val micro-F1 %.3f", s.cell_loss, s.cell_val_f1);
      std::printf("\n");
    }
    std::printf("wrote %s and %s (self-trained on synthetic data; see pretraining.json)\n",
                r.visual_weights.c_str(), r.audio_weights.c_str());
  });

  CLI::App* cache = app.add_subcommand("cache", "Inspect feature caches");
  cache->require_subcommand(1);
  auto info_path = std::make_shared<std::string>();
  CLI::App* info =
      cache->add_subcommand("info", "Layout, backbones, weights and progress of a cache");
  info->add_option("cache", *info_path, "HDF5 feature cache")->required();
  info->callback([info_path] { print_info(*info_path); });
  auto verify_path = std::make_shared<std::string>();
  CLI::App* verify = cache->add_subcommand(
      "verify", "Check every video is extracted and every value finite; exit 2 otherwise");
  verify->add_option("cache", *verify_path, "HDF5 feature cache")->required();
  verify->callback([verify_path] { run_verify(*verify_path); });
  auto probe = std::make_shared<ProbeCellsArgs>();
  CLI::App* probe_cmd = cache->add_subcommand(
      "probe-cells",
      "Grounding diagnostic on a generated dataset: does a linear probe on one cell of the visual "
      "maps tell whether an instrument is in that cell (trained on one split, scored on another)?");
  probe_cmd->add_option("cache", probe->cache, "HDF5 feature cache with visual maps")->required();
  probe_cmd
      ->add_option("--data", probe->data, "Dataset written by avqa generate (annotations/, truth/)")
      ->required();
  probe_cmd->add_option("--train-split", probe->train_split, "Split the probe learns on")
      ->capture_default_str();
  probe_cmd->add_option("--test-split", probe->test_split, "Split it is scored on")
      ->capture_default_str();
  probe_cmd->add_flag("--sounding", probe->options.sounding_only,
                      "Inside = in a sounding instrument's box (one frame cannot know who plays "
                      "unless motion shows it)");
  probe_cmd->add_flag("--audio", probe->with_audio,
                      "Also probe the audio features: does one second's feature tell which "
                      "instruments sound (the query the spatial attention follows)?");
  probe_cmd->add_option("--epochs", probe->options.epochs, "Probe training epochs")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  probe_cmd->callback([probe, &global] { run_probe_cells(*probe, global); });
  auto oracle = std::make_shared<OracleArgs>();
  CLI::App* oracle_cmd = cache->add_subcommand(
      "oracle",
      "DIAGNOSTIC on a generated dataset: a cache whose features are the truth (per second which "
      "instruments sound, how loud, their onsets, the voiceover; per cell which instrument is "
      "there and whether it sounds), for the ceiling of question answering apart from the "
      "backbones. Never features of the media: its metadata says so");
  oracle_cmd
      ->add_option("--data", oracle->data, "Dataset written by avqa generate (its truth/ folder)")
      ->required();
  oracle_cmd->add_option("--out", oracle->out, "HDF5 cache to write (must not exist)")->required();
  oracle_cmd->add_option("--grid", oracle->options.grid, "Cells per side of the visual maps")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  oracle_cmd->callback([oracle] { run_oracle(*oracle); });
}

}  // namespace avqa::tools
