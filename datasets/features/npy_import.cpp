#include "datasets/features/npy_import.h"

#include <algorithm>
#include <chrono>
#include <map>
#include <set>

#include <nlohmann/json.hpp>

#include "core/atomic_file.h"
#include "core/input_error.h"
#include "core/progress_line.h"
#include "datasets/features/npy_file.h"

namespace avqa::features {
namespace {

namespace fs = std::filesystem;

std::map<std::string, fs::path> npy_files(const fs::path& folder) {
  std::map<std::string, fs::path> files;
  if (folder.empty()) return files;
  std::error_code ec;
  if (!fs::is_directory(folder, ec))
    throw core::InputError({folder.string(), std::nullopt, ""}, "is not a folder");
  for (const auto& e : fs::directory_iterator(folder)) {
    if (e.is_regular_file() && e.path().extension() == ".npy")
      files[e.path().stem().string()] = e.path();
  }
  if (files.empty())
    throw core::InputError({folder.string(), std::nullopt, ""}, "holds no .npy files");
  return files;
}

}  // namespace

ExtractSummary import_npy(const ImportOptions& o) {
  const auto start = std::chrono::steady_clock::now();
  if (o.audio_dir.empty() && o.visual_dir.empty())
    throw std::invalid_argument("give --audio-dir, --visual-dir or both");
  const std::map<std::string, fs::path> audio = npy_files(o.audio_dir);
  const std::map<std::string, fs::path> visual = npy_files(o.visual_dir);
  std::set<std::string> ids;
  for (const auto& [id, p] : audio)
    ids.insert(id);
  for (const auto& [id, p] : visual)
    ids.insert(id);

  CacheLayout layout;
  layout.video_ids.assign(ids.begin(), ids.end());
  layout.fps = o.fps;
  layout.storage = o.storage;
  layout.attributes["tool"] = "avqa import-npy";
  layout.segments = -1;
  // The first file of each folder fixes the shapes every other file must have.
  auto add_modality = [&](const char* name, const std::map<std::string, fs::path>& files,
                          const fs::path& folder) {
    if (files.empty()) return;
    const NpyArray first = read_npy(files.begin()->second);
    if (first.shape.size() < 2) {
      throw core::InputError({files.begin()->second.string(), std::nullopt, "shape"},
                             "expected [T, ...] features");
    }
    const int segments = static_cast<int>(first.shape[0]);
    if (layout.segments >= 0 && layout.segments != segments) {
      throw core::InputError({files.begin()->second.string(), std::nullopt, "shape"},
                             "has " + std::to_string(segments) +
                                 " rows, the other folder's files " +
                                 std::to_string(layout.segments));
    }
    layout.segments = segments;
    ModalityLayout m{name, std::vector<std::uint64_t>(first.shape.begin() + 1, first.shape.end()),
                     "imported from " + folder.filename().string(),
                     "unknown (imported .npy files)"};
    layout.modalities.push_back(m);
  };
  add_modality("visual", visual, o.visual_dir);
  add_modality("audio", audio, o.audio_dir);

  std::error_code ec;
  if (fs::exists(o.out, ec))
    throw core::InputError({o.out.string(), std::nullopt, ""}, "already exists");
  FeatureCacheWriter writer = FeatureCacheWriter::create(o.out, layout);
  ExtractSummary summary;
  core::ProgressLine progress("import-npy", layout.video_ids.size(), "videos");
  for (std::size_t v = 0; v < layout.video_ids.size(); ++v) {
    const std::string& id = layout.video_ids[v];
    try {
      VideoFeatures features;
      features.real_seconds = static_cast<float>(layout.segments / o.fps);
      features.has_audio = audio.count(id) > 0;
      for (const ModalityLayout& m : layout.modalities) {
        const auto& files = m.name == "audio" ? audio : visual;
        const auto it = files.find(id);
        if (it == files.end()) throw std::runtime_error("no " + m.name + " file");
        NpyArray array = read_npy(it->second);
        std::vector<std::uint64_t> expected = {static_cast<std::uint64_t>(layout.segments)};
        expected.insert(expected.end(), m.segment_shape.begin(), m.segment_shape.end());
        if (array.shape != expected) {
          std::string got;
          for (const auto d : array.shape)
            got += (got.empty() ? "" : ", ") + std::to_string(d);
          throw core::InputError({it->second.string(), std::nullopt, "shape"},
                                 "is (" + got + "), other files have another shape");
        }
        features.modalities[m.name] = std::move(array.values);
      }
      writer.write(v, features);
      ++summary.extracted;
    } catch (const std::exception& e) {
      summary.failures.emplace_back(id, e.what());
      writer.mark_failed(v);
    }
    if (o.progress) progress.update(v + 1);
  }
  if (o.progress) progress.finish();
  write_failure_report(o.out, summary.failures);
  for (const ModalityLayout& m : layout.modalities)
    summary.weights.push_back(m.name + ": " + m.backbone + ", weights " + m.weights);
  summary.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return summary;
}

}  // namespace avqa::features
