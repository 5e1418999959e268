#include "datasets/synthetic/truth.h"

#include <algorithm>
#include <cmath>

#include <nlohmann/json.hpp>

#include "core/input_error.h"
#include "datasets/annotations.h"

namespace avqa::synthetic {

namespace {

// Power spectra (dB per bin) of Hann windows of one power-of-two size. The window and the
// FFT's twiddle factors are computed once per analysis, not per frame: the trigonometry
// otherwise outweighed the transform.
class SpectrumAnalyser {
 public:
  explicit SpectrumAnalyser(std::size_t size) : size_(size), window_(size) {
    for (std::size_t k = 0; k < size; ++k) {
      window_[k] =
          0.5 - 0.5 * std::cos(2.0 * M_PI * static_cast<double>(k) / static_cast<double>(size));
    }
    for (std::size_t len = 2; len <= size; len <<= 1) {
      const double angle = -2.0 * M_PI / static_cast<double>(len);
      for (std::size_t k = 0; k < len / 2; ++k) {
        twiddle_re_.push_back(std::cos(angle * static_cast<double>(k)));
        twiddle_im_.push_back(std::sin(angle * static_cast<double>(k)));
      }
    }
  }

  /// The spectrum of the window centred at sample `centre` (zeros beyond the ends), floored
  /// well below the hearing threshold so that silence does not "rise".
  std::vector<float> operator()(const std::vector<float>& samples, std::size_t centre) const {
    std::vector<double> re(size_, 0.0);
    std::vector<double> im(size_, 0.0);
    for (std::size_t k = 0; k < size_; ++k) {
      const std::ptrdiff_t i =
          static_cast<std::ptrdiff_t>(centre + k) - static_cast<std::ptrdiff_t>(size_ / 2);
      if (i < 0 || i >= static_cast<std::ptrdiff_t>(samples.size())) continue;
      re[k] = window_[k] * samples[static_cast<std::size_t>(i)];
    }
    fft(re, im);
    std::vector<float> out(size_ / 2);
    for (std::size_t k = 0; k < size_ / 2; ++k)
      out[k] = static_cast<float>(10.0 * std::log10(re[k] * re[k] + im[k] * im[k] + 1e-9));
    return out;
  }

 private:
  // In-place iterative radix-2 FFT.
  void fft(std::vector<double>& re, std::vector<double>& im) const {
    const std::size_t n = size_;
    for (std::size_t i = 1, j = 0; i < n; ++i) {
      std::size_t bit = n >> 1;
      for (; j & bit; bit >>= 1)
        j ^= bit;
      j ^= bit;
      if (i < j) {
        std::swap(re[i], re[j]);
        std::swap(im[i], im[j]);
      }
    }
    std::size_t stage = 0;  // where this stage's twiddles start
    for (std::size_t len = 2; len <= n; len <<= 1) {
      for (std::size_t i = 0; i < n; i += len) {
        for (std::size_t k = 0; k < len / 2; ++k) {
          const double wr = twiddle_re_[stage + k];
          const double wi = twiddle_im_[stage + k];
          const std::size_t a = i + k;
          const std::size_t b = a + len / 2;
          const double xr = re[b] * wr - im[b] * wi;
          const double xi = re[b] * wi + im[b] * wr;
          re[b] = re[a] - xr;
          im[b] = im[a] - xi;
          re[a] += xr;
          im[a] += xi;
        }
      }
      stage += len / 2;
    }
  }

  std::size_t size_;
  std::vector<double> window_;
  std::vector<double> twiddle_re_, twiddle_im_;  // per stage, cos/sin(-2 pi k / len)
};

}  // namespace

StemAnalysis analyse_stem(const std::vector<float>& samples,
                          int sample_rate,
                          int seconds,
                          const StemAnalysisParams& params) {
  StemAnalysis out;
  const auto frame = static_cast<std::size_t>(std::lround(params.frame_seconds * sample_rate));
  const std::size_t frames = samples.size() / frame;
  out.frame_db.resize(frames);
  out.frame_sounding.resize(frames);
  double power_sum = 0;
  std::size_t heard_frames = 0;
  for (std::size_t f = 0; f < frames; ++f) {
    double energy = 0;
    for (std::size_t i = f * frame; i < (f + 1) * frame; ++i)
      energy += static_cast<double>(samples[i]) * samples[i];
    const double power = energy / static_cast<double>(frame);
    const double db = 10.0 * std::log10(power + 1e-12);
    out.frame_db[f] = static_cast<float>(db);
    out.frame_sounding[f] = db > params.sounding_db;
    if (out.frame_sounding[f]) {
      power_sum += power;
      ++heard_frames;
    }
  }
  // Mean power, not mean dB: a decaying note's quiet tail would otherwise pull a plucked or
  // struck part several dB below a sustained one a listener hears as equally loud.
  if (heard_frames > 0)
    out.loudness_db = 10.0 * std::log10(power_sum / static_cast<double>(heard_frames) + 1e-12);

  // Played: heard, or a silence between heard frames shorter than the bridge (the gap between
  // two notes of one part, which a listener hears as the part going on).
  out.frame_playing = out.frame_sounding;
  const auto bridge =
      static_cast<std::size_t>(std::lround(params.bridge_seconds / params.frame_seconds));
  std::optional<std::size_t> last_heard;
  for (std::size_t f = 0; f < frames; ++f) {
    if (!out.frame_sounding[f]) continue;
    if (last_heard && f - *last_heard > 1 && f - *last_heard - 1 < bridge) {
      for (std::size_t g = *last_heard + 1; g < f; ++g)
        out.frame_playing[g] = true;
    }
    if (!out.first_sound) out.first_sound = static_cast<double>(f) * params.frame_seconds;
    out.last_sound = static_cast<double>(f + 1) * params.frame_seconds;
    last_heard = f;
  }
  const auto played = std::count(out.frame_playing.begin(), out.frame_playing.end(), true);
  out.sounding_seconds = static_cast<double>(played) * params.frame_seconds;

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
  }

  // Onsets: the overall level jumps (a note after silence, a drum hit), or a good share of the
  // frame's power lies in spectral bins that were much quieter a moment ago (a new note of a
  // legato part, whose level does not dip between notes).
  const auto lookback =
      static_cast<std::size_t>(std::lround(params.onset_lookback / params.frame_seconds));
  const auto fft_size = static_cast<std::size_t>(params.spectrum_size);
  // Frames whose window reaches into this frame's own first half already hold the new note.
  const std::size_t overlap = (fft_size / 2 + frame - 1) / frame;
  const auto spectral_lookback = std::max<std::size_t>(
      1,
      static_cast<std::size_t>(std::lround(params.onset_spectral_lookback / params.frame_seconds)));
  std::vector<std::vector<float>> spectra(frames);
  const SpectrumAnalyser spectrum(fft_size);
  double last_onset = -1e9;
  for (std::size_t f = 0; f < frames; ++f) {
    if (!out.frame_sounding[f]) continue;
    const double t = static_cast<double>(f) * params.frame_seconds;
    if (t - last_onset < params.onset_refractory) continue;
    float recent_min = f == 0 ? -120.f : out.frame_db[f - 1];
    for (std::size_t k = 1; k <= lookback && k <= f; ++k)
      recent_min = std::min(recent_min, out.frame_db[f - k]);
    bool onset = out.frame_db[f] - recent_min >= params.onset_rise_db;
    if (!onset && f >= spectral_lookback) {
      for (std::size_t g = f - spectral_lookback; g <= f; ++g) {
        if (spectra[g].empty()) spectra[g] = spectrum(samples, g * frame + frame / 2);
      }
      // A bin is new when it stands well above the most it held over the last moments: the look
      // back spans a vibrato cycle, so a partial swaying by a bin does not count.
      const std::vector<float>& now = spectra[f];
      double total = 0;
      double risen = 0;
      for (std::size_t k = 0; k < now.size(); ++k) {
        float before = -1000.f;
        for (std::size_t g = f - spectral_lookback; g + overlap <= f; ++g) {
          before = std::max(before, spectra[g][k]);
        }
        const double power = std::pow(10.0, now[k] / 10.0);
        total += power;
        if (now[k] - before >= params.onset_rise_db) risen += power;
      }
      onset = total > 0 && risen >= params.onset_new_energy * total;
    }
    if (onset) {
      out.onsets.push_back(t);
      last_onset = t;
    }
  }
  if (out.sounding_seconds > 0)
    out.onset_rate = static_cast<double>(out.onsets.size()) / out.sounding_seconds;

  // A second sounds when it is half played, or when a note begins in it: the last, short note
  // of a passage is heard as playing, a release tail alone is not.
  for (int s = 0; s < seconds; ++s) {
    std::size_t count = 0;
    for (std::size_t f = s * per_second; f < std::min(frames, (s + 1) * per_second); ++f)
      count += out.frame_playing[f];
    const bool onset = std::any_of(out.onsets.begin(), out.onsets.end(),
                                   [s](double t) { return t >= s && t < s + 1; });
    out.sounding_per_second.push_back(onset ||
                                      static_cast<double>(count) >=
                                          params.second_fraction * static_cast<double>(per_second));
  }
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
  auto seconds_or_null = [&](const std::optional<double>& t) {
    return t ? json(round3(*t)) : json(nullptr);
  };
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
    item["first_sound"] = seconds_or_null(inst.first_sound);
    item["last_sound"] = seconds_or_null(inst.last_sound);
    item["loudness_db"] = round3(inst.loudness_db);
    item["onset_rate"] = round3(inst.onset_rate);
    json onsets = json::array();
    for (const double o : inst.onsets)
      onsets.push_back(round3(o));
    item["onsets"] = onsets;
    instruments.push_back(item);
  }
  json voiceover = nullptr;
  if (truth.voiceover) {
    const auto& v = *truth.voiceover;
    voiceover = {{"text", v.text},
                 {"first_sound", seconds_or_null(v.first_sound)},
                 {"last_sound", seconds_or_null(v.last_sound)},
                 {"loudness_db", round3(v.loudness_db)}};
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
              {"voiceover", voiceover},
              {"units",
               {{"box", "pixels [x0, y0, x1, y1)"},
                {"loudness_per_second", "RMS of the instrument's own track, full scale 1"},
                {"loudness_db", "dBFS of the mean power over its heard 20 ms frames"},
                {"sounding_seconds", "time played, gaps of under 0.6 s between notes included"},
                {"first_sound", "seconds: start of the first heard 20 ms frame"},
                {"onset_rate", "onsets per second played"}}}};
  if (!truth.label.empty()) {
    doc["label"] = truth.label;
    doc["ambiguous"] = truth.ambiguous;
  }
  return doc.dump(1) + "\n";
}

namespace {

// A time that may be absent or null (never heard; or a file written before the field existed).
std::optional<double> seconds_if_any(const nlohmann::json& item, const char* key) {
  if (!item.contains(key) || item.at(key).is_null()) return std::nullopt;
  return item.at(key).get<double>();
}

}  // namespace

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
      field = "instruments[" + std::to_string(t.instruments.size()) + "]";
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
      // Files written before these fields existed read as "not measured".
      inst.sounding_seconds = item.value("sounding_seconds", 0.0);
      inst.loudness_db = item.value("loudness_db", -120.0);
      inst.onset_rate = item.value("onset_rate", 0.0);
      if (item.contains("onsets")) inst.onsets = item.at("onsets").get<std::vector<double>>();
      if (item.contains("loudness_per_second"))
        inst.rms_per_second = item.at("loudness_per_second").get<std::vector<float>>();
      inst.first_sound = seconds_if_any(item, "first_sound");
      inst.last_sound = seconds_if_any(item, "last_sound");
      t.instruments.push_back(std::move(inst));
    }
    field = "voiceover";
    if (doc.contains("voiceover") && !doc.at("voiceover").is_null()) {
      const json& v = doc.at("voiceover");
      VoiceoverTruth voice;
      voice.text = v.at("text").get<std::string>();
      voice.first_sound = seconds_if_any(v, "first_sound");
      voice.last_sound = seconds_if_any(v, "last_sound");
      voice.loudness_db = v.value("loudness_db", -120.0);
      t.voiceover = voice;
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

std::vector<std::string> truth_video_ids(const std::filesystem::path& data) {
  const std::filesystem::path truth = data / "truth";
  std::error_code ec;
  if (!std::filesystem::is_directory(truth, ec))
    throw core::InputError({data.string(), std::nullopt, ""},
                           "is not a dataset written by avqa generate (no truth/ folder)");
  std::vector<std::string> ids;
  for (const auto& entry : std::filesystem::directory_iterator(truth)) {
    if (entry.path().extension() == ".json") ids.push_back(entry.path().stem().string());
  }
  std::sort(ids.begin(), ids.end());
  return ids;
}

}  // namespace avqa::synthetic
