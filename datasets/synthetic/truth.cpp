#include "datasets/synthetic/truth.h"

#include <algorithm>
#include <cmath>

#include <nlohmann/json.hpp>

#include "core/input_error.h"
#include "datasets/annotations.h"

namespace avqa::synthetic {

StemAnalysis analyse_stem(const std::vector<float>& samples,
                          int sample_rate,
                          int seconds,
                          const StemAnalysisParams& params) {
  StemAnalysis out;
  const auto frame = static_cast<std::size_t>(std::lround(params.frame_seconds * sample_rate));
  const std::size_t frames = samples.size() / frame;
  out.frame_db.resize(frames);
  out.frame_sounding.resize(frames);
  double db_sum = 0;
  std::size_t sounding_frames = 0;
  for (std::size_t f = 0; f < frames; ++f) {
    double energy = 0;
    for (std::size_t i = f * frame; i < (f + 1) * frame; ++i)
      energy += static_cast<double>(samples[i]) * samples[i];
    const double db = 10.0 * std::log10(energy / static_cast<double>(frame) + 1e-12);
    out.frame_db[f] = static_cast<float>(db);
    out.frame_sounding[f] = db > params.sounding_db;
    if (out.frame_sounding[f]) {
      db_sum += db;
      ++sounding_frames;
    }
  }
  out.sounding_seconds = static_cast<double>(sounding_frames) * params.frame_seconds;
  if (sounding_frames > 0) out.loudness_db = db_sum / static_cast<double>(sounding_frames);

  const auto per_second = static_cast<std::size_t>(std::lround(1.0 / params.frame_seconds));
  for (int s = 0; s < seconds; ++s) {
    double energy = 0;
    const std::size_t begin = static_cast<std::size_t>(s) * static_cast<std::size_t>(sample_rate);
    const std::size_t end = std::min(samples.size(), begin + static_cast<std::size_t>(sample_rate));
    for (std::size_t i = begin; i < end; ++i)
      energy += static_cast<double>(samples[i]) * samples[i];
    out.rms_per_second.push_back(
        end > begin ? static_cast<float>(std::sqrt(energy / static_cast<double>(end - begin)))
                    : 0.f);
    std::size_t count = 0;
    for (std::size_t f = s * per_second; f < std::min(frames, (s + 1) * per_second); ++f)
      count += out.frame_sounding[f];
    out.sounding_per_second.push_back(static_cast<double>(count) >=
                                      params.second_fraction * static_cast<double>(per_second));
  }

  const auto lookback =
      static_cast<std::size_t>(std::lround(params.onset_lookback / params.frame_seconds));
  double last_onset = -1e9;
  for (std::size_t f = 0; f < frames; ++f) {
    if (!out.frame_sounding[f]) continue;
    float recent_min = f == 0 ? -120.f : out.frame_db[f - 1];
    for (std::size_t k = 1; k <= lookback && k <= f; ++k)
      recent_min = std::min(recent_min, out.frame_db[f - k]);
    const double t = static_cast<double>(f) * params.frame_seconds;
    if (out.frame_db[f] - recent_min >= params.onset_rise_db &&
        t - last_onset >= params.onset_refractory) {
      out.onsets.push_back(t);
      last_onset = t;
    }
  }
  if (out.sounding_seconds > 0)
    out.onset_rate = static_cast<double>(out.onsets.size()) / out.sounding_seconds;
  return out;
}

bool InstrumentTruth::sounds() const {
  return first_second().has_value();
}

std::optional<int> InstrumentTruth::first_second() const {
  for (std::size_t s = 0; s < sounding_per_second.size(); ++s) {
    if (sounding_per_second[s]) return static_cast<int>(s);
  }
  return std::nullopt;
}

std::optional<int> InstrumentTruth::last_second() const {
  for (std::size_t s = sounding_per_second.size(); s > 0; --s) {
    if (sounding_per_second[s - 1]) return static_cast<int>(s - 1);
  }
  return std::nullopt;
}

std::vector<std::size_t> SceneTruth::visible() const {
  std::vector<std::size_t> out;
  for (std::size_t i = 0; i < instruments.size(); ++i) {
    if (instruments[i].visible) out.push_back(i);
  }
  return out;
}

bool SceneTruth::offscreen_sounds() const {
  return std::any_of(instruments.begin(), instruments.end(),
                     [](const auto& i) { return !i.visible && i.sounds(); });
}

std::string to_json(const SceneTruth& truth) {
  using json = nlohmann::json;
  auto box_json = [](const Box& b) { return json::array({b.x0, b.y0, b.x1, b.y1}); };
  auto round3 = [](double v) { return std::round(v * 1000.0) / 1000.0; };
  json instruments = json::array();
  for (const InstrumentTruth& inst : truth.instruments) {
    json item = {{"class", inst.name}, {"visible", inst.visible}};
    if (inst.visible) {
      item["position"] = to_string(inst.column);
      item["box"] = box_json(inst.box);
      json boxes = json::array();
      for (const Box& b : inst.boxes_per_second)
        boxes.push_back(box_json(b));
      item["box_per_second"] = boxes;
    }
    json intervals = json::array();
    for (const auto& [s, e] : inst.sounding_intervals)
      intervals.push_back({s, e});
    item["sounding_intervals"] = intervals;
    json per_second = json::array();
    for (const bool b : inst.sounding_per_second)
      per_second.push_back(b ? 1 : 0);
    item["sounding_per_second"] = per_second;
    json rms = json::array();
    for (const float r : inst.rms_per_second)
      rms.push_back(std::round(static_cast<double>(r) * 1e6) / 1e6);
    item["loudness_per_second"] = rms;
    item["sounding_seconds"] = round3(inst.sounding_seconds);
    item["loudness_db"] = round3(inst.loudness_db);
    item["onset_rate"] = round3(inst.onset_rate);
    json onsets = json::array();
    for (const double o : inst.onsets)
      onsets.push_back(round3(o));
    item["onsets"] = onsets;
    instruments.push_back(item);
  }
  json doc = {{"video_id", truth.video_id},
              {"seconds", truth.seconds},
              {"fps", truth.fps},
              {"width", truth.width},
              {"height", truth.height},
              {"background", truth.background},
              {"offscreen_sound", truth.offscreen_sounds()},
              {"motion_suppressed", truth.motion_suppressed},
              {"snr_db", truth.snr_db ? json(*truth.snr_db) : json(nullptr)},
              {"mix_gain", std::round(truth.mix_gain * 1e6) / 1e6},
              {"instruments", instruments},
              {"units",
               {{"box", "pixels [x0, y0, x1, y1)"},
                {"loudness_per_second", "RMS of the instrument's own track, full scale 1"},
                {"loudness_db", "mean RMS dBFS over its sounding 20 ms frames"},
                {"onset_rate", "onsets per sounding second"}}}};
  if (!truth.label.empty()) {
    doc["label"] = truth.label;
    doc["ambiguous"] = truth.ambiguous;
  }
  return doc.dump(1) + "\n";
}

SceneTruth load_truth(const std::filesystem::path& file) {
  using json = nlohmann::json;
  const std::string source = file.string();
  std::string field;  // what is being read, for the error
  try {
    const json doc = json::parse(data::read_text_file(file));
    SceneTruth t;
    const auto box = [](const json& b) {
      return Box{b.at(0).get<int>(), b.at(1).get<int>(), b.at(2).get<int>(), b.at(3).get<int>()};
    };
    field = "video_id";
    t.video_id = doc.at("video_id").get<std::string>();
    field = "seconds";
    t.seconds = doc.at("seconds").get<int>();
    field = "width";
    t.width = doc.at("width").get<int>();
    field = "height";
    t.height = doc.at("height").get<int>();
    field = "instruments";
    for (const json& item : doc.at("instruments")) {
      InstrumentTruth inst;
      inst.name = item.at("class").get<std::string>();
      inst.visible = item.at("visible").get<bool>();
      if (inst.visible) {
        inst.box = box(item.at("box"));
        for (const json& b : item.at("box_per_second"))
          inst.boxes_per_second.push_back(box(b));
      }
      for (const json& interval : item.at("sounding_intervals"))
        inst.sounding_intervals.push_back({interval.at(0).get<int>(), interval.at(1).get<int>()});
      for (const json& b : item.at("sounding_per_second"))
        inst.sounding_per_second.push_back(b.get<int>() != 0);
      t.instruments.push_back(std::move(inst));
    }
    field = "motion_suppressed";
    t.motion_suppressed = doc.value("motion_suppressed", false);
    field = "label";
    t.label = doc.value("label", "");
    t.ambiguous = doc.value("ambiguous", "");
    return t;
  } catch (const json::exception& e) {
    throw core::InputError({source, std::nullopt, field}, std::string("unreadable: ") + e.what());
  }
}

}  // namespace avqa::synthetic
