#include "avqa/oracle_features.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "avqa/grounding_diagnostics.h"
#include "core/input_error.h"
#include "datasets/features/feature_cache.h"
#include "datasets/synthetic/truth.h"
#include "datasets/vocabulary.h"

namespace avqa::net {
namespace {

namespace fs = std::filesystem;

constexpr int kLoudness = 22;
constexpr int kOnsets = 44;
constexpr int kVoiceover = 66;
constexpr int kSoundingCells = 22;

}  // namespace

void write_oracle_cache(const fs::path& truth_dir,
                        const std::vector<std::string>& video_ids,
                        const fs::path& out,
                        const OracleFeatureOptions& o) {
  const auto& names = data::music_avqa_instruments();
  const int classes = static_cast<int>(names.size());
  if (o.grid < 1) throw std::invalid_argument("oracle features: the grid needs at least one cell");
  if (o.channels < 2 * classes || o.audio_dims < kVoiceover + 1)
    throw std::invalid_argument("oracle features: too few channels or audio dimensions");
  if (video_ids.empty()) throw std::invalid_argument("oracle features: no videos");

  std::vector<synthetic::SceneTruth> truths;
  for (const std::string& id : video_ids) {
    const fs::path file = truth_dir / (id + ".json");
    truths.push_back(synthetic::load_truth(file));
    if (truths.back().seconds != truths.front().seconds)
      throw core::InputError({file.string(), std::nullopt, "seconds"},
                             std::to_string(truths.back().seconds) + " seconds where " +
                                 video_ids.front() + " has " +
                                 std::to_string(truths.front().seconds));
  }
  const int seconds = truths.front().seconds;

  features::CacheLayout layout;
  layout.video_ids = video_ids;
  layout.segments = seconds;
  layout.fps = 1;
  layout.storage = features::StorageType::Float16;
  const std::string what = "DIAGNOSTIC: the generator's truth, not features of the media";
  layout.modalities = {{"audio", {static_cast<std::uint64_t>(o.audio_dims)}, "oracle-truth", what},
                       {"visual",
                        {static_cast<std::uint64_t>(o.channels), static_cast<std::uint64_t>(o.grid),
                         static_cast<std::uint64_t>(o.grid)},
                        "oracle-truth",
                        what}};
  layout.attributes["tool"] = "avqa cache oracle";
  auto writer = features::FeatureCacheWriter::create(out, layout);

  const std::size_t cells = static_cast<std::size_t>(o.grid) * static_cast<std::size_t>(o.grid);
  for (std::size_t v = 0; v < truths.size(); ++v) {
    const synthetic::SceneTruth& t = truths[v];
    const fs::path file = truth_dir / (video_ids[v] + ".json");
    std::vector<float> audio(static_cast<std::size_t>(seconds * o.audio_dims), 0.f);
    std::vector<float> visual(static_cast<std::size_t>(seconds * o.channels) * cells, 0.f);
    for (std::size_t i = 0; i < t.instruments.size(); ++i) {
      const synthetic::InstrumentTruth& inst = t.instruments[i];
      const auto it = std::find(names.begin(), names.end(), inst.name);
      if (it == names.end())
        throw core::InputError(
            {file.string(), std::nullopt, "instruments[" + std::to_string(i) + "].class"},
            "'" + inst.name + "' is not one of MUSIC-AVQA's instruments");
      const int c = static_cast<int>(it - names.begin());
      for (int s = 0; s < seconds; ++s) {
        const auto second = static_cast<std::size_t>(s);
        const bool sounding =
            second < inst.sounding_per_second.size() && inst.sounding_per_second[second];
        float* a = audio.data() + static_cast<std::size_t>(s * o.audio_dims);
        if (sounding) {
          a[c] = 1.f;
          const double rms =
              second < inst.rms_per_second.size() ? inst.rms_per_second[second] : 0.0;
          const double db = rms > 0 ? 20 * std::log10(rms) : -120;
          a[kLoudness + c] = static_cast<float>(std::clamp((db + 60) / 60, 0.0, 1.0));
        }
        a[kOnsets + c] += static_cast<float>(
            std::count_if(inst.onsets.begin(), inst.onsets.end(),
                          [&](double when) { return when >= s && when < s + 1; }));
        if (!inst.visible || second >= inst.boxes_per_second.size()) continue;
        const synthetic::Box& b = inst.boxes_per_second[second];
        TruthBox box;
        box.x0 = b.x0;
        box.y0 = b.y0;
        box.x1 = b.x1;
        box.y1 = b.y1;
        const std::vector<float> inside = cells_inside({box}, o.grid, o.grid, t.width, t.height);
        float* maps = visual.data() + static_cast<std::size_t>(s * o.channels) * cells;
        for (std::size_t k = 0; k < cells; ++k) {
          if (inside[k] <= 0) continue;
          maps[static_cast<std::size_t>(c) * cells + k] = 1.f;
          if (sounding) maps[static_cast<std::size_t>(kSoundingCells + c) * cells + k] = 1.f;
        }
      }
    }
    if (t.voiceover && t.voiceover->first_sound && t.voiceover->last_sound) {
      for (int s = 0; s < seconds; ++s) {
        if (*t.voiceover->first_sound < s + 1 && *t.voiceover->last_sound > s)
          audio[static_cast<std::size_t>(s * o.audio_dims + kVoiceover)] = 1.f;
      }
    }
    features::VideoFeatures f;
    f.modalities["audio"] = std::move(audio);
    f.modalities["visual"] = std::move(visual);
    f.real_seconds = static_cast<float>(seconds);
    writer.write(v, f);
  }
}

}  // namespace avqa::net
