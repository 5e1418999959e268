#include "datasets/synthetic/generator.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <exception>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <stdexcept>
#include <thread>

#include <nlohmann/json.hpp>

#include "core/atomic_file.h"
#include "core/progress_line.h"
#include "core/sha256.h"
#include "datasets/media/video_file_writer.h"
#include "datasets/question_type.h"
#include "datasets/synthetic/frame_renderer.h"
#include "datasets/synthetic/instrument_synth.h"
#include "datasets/synthetic/question_templates.h"
#include "datasets/synthetic/speech_synth.h"

namespace avqa::synthetic {
namespace {

namespace fs = std::filesystem;
using ordered_json = nlohmann::ordered_json;

constexpr const char* kSplitNames[] = {"train", "val", "test"};
constexpr double kMixPeak = 0.89;  // normalised mix peak, leaves AAC headroom
constexpr int kAbsentClassesOffered =
    3;  // absent classes offered per clip for "no"/"zero" questions
// Largest share one answer may take of a template's questions (plus one question of slack), so
// that the question alone does not give the answer away.
constexpr double kYesNoAnswerCap = 0.55;
constexpr double kOtherAnswerCap = 0.5;

struct Context {
  const GeneratorOptions& options;
  InstrumentTable table;
  fs::path soundfont;
  std::vector<std::vector<float>> voice_lines;  ///< voiceover_lines() spoken, at the sample rate
};

struct Question {
  std::size_t video = 0;
  int template_id = 0;
  QuestionCandidate candidate;
};

std::string video_id(const GeneratorOptions& o, int index) {
  char digits[16];
  std::snprintf(digits, sizeof digits, "%05d", index);
  return o.video_prefix + digits;
}

// Normal deviates from the project's own generator (Box-Muller), so noise is reproducible.
double gaussian(Rng& rng) {
  const double u1 = std::max(rng.uniform(), 1e-300);
  const double u2 = rng.uniform();
  return std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * M_PI * u2);
}

// Whether instrument i plays at time t: a player moves while playing, between notes included.
auto playing_at(const std::vector<StemAnalysis>& measured) {
  const double frame_seconds = StemAnalysisParams{}.frame_seconds;
  return [&measured, frame_seconds](std::size_t i, double t) {
    const auto frame = static_cast<std::size_t>(t / frame_seconds);
    return frame < measured[i].frame_playing.size() && measured[i].frame_playing[frame];
  };
}

std::vector<std::array<int, 2>> merge_seconds(const std::vector<bool>& per_second) {
  std::vector<std::array<int, 2>> intervals;
  for (std::size_t s = 0; s < per_second.size(); ++s) {
    if (!per_second[s]) continue;
    if (!intervals.empty() && intervals.back()[1] == static_cast<int>(s)) {
      intervals.back()[1] = static_cast<int>(s) + 1;
    } else {
      intervals.push_back({static_cast<int>(s), static_cast<int>(s) + 1});
    }
  }
  return intervals;
}

// A clip as sampled and heard: everything but its frames.
struct MeasuredClip {
  Scene scene;
  SceneTruth truth;
  std::vector<float> mix;              ///< the file's audio
  std::vector<StemAnalysis> measured;  ///< per instrument, at its level in the file
};

MeasuredClip measure_clip(const Context& ctx, InstrumentSynth& synth, int index) {
  const GeneratorOptions& o = ctx.options;
  const SceneParams& p = o.scene;
  Rng rng(derive_seed(o.seed, static_cast<std::uint64_t>(index)));
  std::optional<ClassificationScene> classified;
  if (o.classes > 0) classified = sample_classification_scene(ctx.table, p, o.classes, rng);
  const Scene scene = classified ? classified->scene : sample_scene(ctx.table, p, rng);

  // Audio: one stem per instrument, mixed in float; the stems are the ground truth.
  std::vector<std::vector<float>> stems;
  const std::size_t samples =
      static_cast<std::size_t>(p.seconds) * static_cast<std::size_t>(o.sample_rate);
  std::vector<float> mix(samples, 0.f);
  for (const PlannedInstrument& inst : scene.instruments) {
    std::vector<float> stem = synth.render(ctx.table.at(inst.spec), inst.notes, p.seconds);
    const float gain = static_cast<float>(std::pow(10.0, inst.gain_db / 20.0));
    for (std::size_t i = 0; i < samples; ++i) {
      stem[i] *= gain;
      mix[i] += stem[i];
    }
    stems.push_back(std::move(stem));
  }
  std::vector<float> voice;  // the narrator's own track, when there is one
  if (scene.voiceover) {
    const std::vector<float>& line = ctx.voice_lines.at(scene.voiceover->line);
    voice.assign(samples, 0.f);
    const auto begin = static_cast<std::size_t>(scene.voiceover->start * o.sample_rate);
    const float gain = static_cast<float>(std::pow(10.0, scene.voiceover->gain_db / 20.0));
    for (std::size_t i = 0; i < line.size() && begin + i < samples; ++i) {
      voice[begin + i] = gain * line[i];
      mix[begin + i] += voice[begin + i];
    }
  }
  if (scene.snr_db) {
    double energy = 0;
    for (const float x : mix)
      energy += static_cast<double>(x) * x;
    const double rms = std::sqrt(energy / static_cast<double>(samples));
    const double noise_rms = (rms > 0 ? rms : 0.01) / std::pow(10.0, *scene.snr_db / 20.0);
    for (float& x : mix)
      x += static_cast<float>(noise_rms * gaussian(rng));
  }
  float peak = 0;
  for (const float x : mix)
    peak = std::max(peak, std::abs(x));
  const double mix_gain = peak > 0 ? kMixPeak / peak : 1.0;
  for (float& x : mix)
    x = static_cast<float>(x * mix_gain);

  SceneTruth truth;
  truth.video_id = video_id(o, index);
  truth.seconds = p.seconds;
  truth.fps = o.video_fps;
  truth.width = p.width;
  truth.height = p.height;
  truth.background = scene.outdoor ? "outdoor" : "indoor";
  truth.motion_suppressed = scene.motion_suppressed;
  truth.snr_db = scene.snr_db;
  truth.mix_gain = mix_gain;
  if (classified) {
    truth.label = ctx.table.at(classified->label).name;
    truth.ambiguous = classified->visual_ambiguous  ? "visual"
                      : classified->audio_ambiguous ? "audio"
                                                    : "none";
  }

  const StemAnalysisParams analysis;
  std::vector<StemAnalysis> measured;
  for (std::vector<float>& stem : stems) {
    for (float& x : stem)
      x = static_cast<float>(x * mix_gain);  // the level each part has in the file
    measured.push_back(analyse_stem(stem, o.sample_rate, p.seconds, analysis));
  }
  if (scene.voiceover) {
    for (float& x : voice)
      x = static_cast<float>(x * mix_gain);
    const StemAnalysis speech = analyse_stem(voice, o.sample_rate, p.seconds, analysis);
    VoiceoverTruth v;
    v.text = voiceover_lines().at(scene.voiceover->line).text;
    v.first_sound = speech.first_sound;
    v.last_sound = speech.last_sound;
    v.loudness_db = speech.loudness_db;
    truth.voiceover = v;
  }
  const auto sounding_at = playing_at(measured);
  const FrameRenderer renderer(ctx.table, scene, p);
  for (std::size_t i = 0; i < scene.instruments.size(); ++i) {
    const PlannedInstrument& inst = scene.instruments[i];
    InstrumentTruth t;
    t.name = ctx.table.at(inst.spec).name;
    t.visible = inst.visible;
    t.column = inst.column;
    t.box = inst.box;
    if (inst.visible) {
      for (int s = 0; s < p.seconds; ++s)
        t.boxes_per_second.push_back(renderer.box_at(i, s + 0.5, sounding_at(i, s + 0.5)));
    }
    t.sounding_per_second = measured[i].sounding_per_second;
    t.sounding_intervals = merge_seconds(t.sounding_per_second);
    t.rms_per_second = measured[i].rms_per_second;
    t.sounding_seconds = measured[i].sounding_seconds;
    t.first_sound = measured[i].first_sound;
    t.last_sound = measured[i].last_sound;
    t.loudness_db = measured[i].loudness_db;
    t.onset_rate = measured[i].onset_rate;
    t.onsets = measured[i].onsets;
    truth.instruments.push_back(std::move(t));
  }
  return {scene, std::move(truth), std::move(mix), std::move(measured)};
}

SceneTruth render_clip(const Context& ctx, InstrumentSynth& synth, int index) {
  const GeneratorOptions& o = ctx.options;
  const SceneParams& p = o.scene;
  MeasuredClip clip = measure_clip(ctx, synth, index);
  const Scene& scene = clip.scene;
  SceneTruth& truth = clip.truth;
  const std::vector<float>& mix = clip.mix;
  const std::size_t samples = mix.size();
  const auto sounding_at = playing_at(clip.measured);
  const FrameRenderer renderer(ctx.table, scene, p);

  media::VideoWriterOptions video;
  video.width = p.width;
  video.height = p.height;
  video.fps = o.video_fps;
  video.sample_rate = o.sample_rate;
  media::VideoFileWriter writer(o.out / "videos" / (truth.video_id + ".mp4"), video);
  std::vector<std::uint8_t> rgb;
  std::vector<bool> sounding(scene.instruments.size());
  const int frames = p.seconds * o.video_fps;
  const std::size_t samples_per_frame = static_cast<std::size_t>(o.sample_rate / o.video_fps);
  for (int f = 0; f < frames; ++f) {
    const double t = static_cast<double>(f) / o.video_fps;
    for (std::size_t i = 0; i < sounding.size(); ++i)
      sounding[i] = sounding_at(i, t);
    renderer.render(t, sounding, rgb);
    writer.write_frame(rgb.data(), p.width * 3);
    const std::size_t begin = static_cast<std::size_t>(f) * samples_per_frame;
    const std::size_t end =
        f + 1 == frames ? samples : std::min(samples, begin + samples_per_frame);
    if (end > begin) writer.write_audio(mix.data() + begin, end - begin);
  }
  writer.finish();
  core::write_file_atomically(o.out / "truth" / (truth.video_id + ".json"), to_json(truth));
  return std::move(clip.truth);
}

std::vector<SceneTruth> render_all(const Context& ctx) {
  const GeneratorOptions& o = ctx.options;
  const int jobs = std::max(
      1, std::min(o.videos,
                  o.jobs > 0 ? o.jobs : static_cast<int>(std::thread::hardware_concurrency())));
  std::vector<SceneTruth> truths(static_cast<std::size_t>(o.videos));
  std::atomic<int> next{0};
  std::atomic<int> done{0};
  std::atomic<bool> failed{false};
  std::exception_ptr error;
  std::mutex mutex;
  core::ProgressLine progress("generate", static_cast<std::size_t>(o.videos), "videos");

  auto worker = [&] {
    try {
      InstrumentSynth synth(ctx.soundfont, o.sample_rate);
      for (int i = next++; i < o.videos && !failed; i = next++) {
        truths[static_cast<std::size_t>(i)] = render_clip(ctx, synth, i);
        const int finished = ++done;
        if (o.progress) {
          std::lock_guard<std::mutex> lock(mutex);
          progress.update(static_cast<std::size_t>(finished));
        }
      }
    } catch (...) {
      std::lock_guard<std::mutex> lock(mutex);
      if (!error) error = std::current_exception();
      failed = true;
    }
  };
  std::vector<std::thread> threads;
  for (int j = 0; j < jobs; ++j)
    threads.emplace_back(worker);
  for (std::thread& t : threads)
    t.join();
  if (error) std::rethrow_exception(error);
  if (o.progress) progress.finish();
  return truths;
}

// Picks the questions of every clip in clip order. Templates least used so far go first, and
// within a template the answer least given so far, so answers spread as evenly as each
// template's feasible answers allow.
std::vector<Question> choose_questions(const Context& ctx, const std::vector<SceneTruth>& truths) {
  const GeneratorOptions& o = ctx.options;
  const auto& templates = question_templates();
  Rng rng(derive_seed(o.seed, 0xA5A5A5A5ULL));
  std::vector<int> usage(templates.size(), 0);
  std::vector<std::map<std::string, int>> given(templates.size());
  std::vector<Question> questions;
  for (std::size_t v = 0; v < truths.size(); ++v) {
    const SceneTruth& truth = truths[v];
    std::set<std::string> present;
    for (const auto& inst : truth.instruments)
      present.insert(inst.name);
    std::vector<std::string> absent;
    for (const auto& spec : ctx.table.instruments()) {
      if (!present.count(spec.name)) absent.push_back(spec.name);
    }
    rng.shuffle(absent);
    absent.resize(std::min<std::size_t>(absent.size(), kAbsentClassesOffered));

    struct Option {
      int usage;
      std::uint64_t tie;
      std::size_t tmpl;
      std::vector<QuestionCandidate> candidates;
      std::vector<std::string> acceptable;  // answers that keep the template within its cap
    };
    std::vector<Option> eligible;
    for (std::size_t k = 0; k < templates.size(); ++k) {
      auto candidates = question_candidates(templates[k], truth, absent);
      if (candidates.empty()) continue;
      int asked = 0;
      for (const auto& [answer, n] : given[k])
        asked += n;
      std::set<std::string> answers;
      bool yes_no = true;
      for (const auto& c : candidates) {
        answers.insert(c.answer);
        yes_no &= c.answer == "yes" || c.answer == "no";
      }
      const double cap = yes_no ? kYesNoAnswerCap : kOtherAnswerCap;
      std::vector<std::string> acceptable;
      for (const std::string& answer : answers) {
        if (given[k][answer] + 1 <= cap * (asked + 1) + 1) acceptable.push_back(answer);
      }
      if (!acceptable.empty())
        eligible.push_back({usage[k], rng.next(), k, std::move(candidates), std::move(acceptable)});
    }
    std::sort(eligible.begin(), eligible.end(), [](const Option& a, const Option& b) {
      return a.usage != b.usage ? a.usage < b.usage : a.tie < b.tie;
    });
    const std::size_t take =
        std::min<std::size_t>(eligible.size(), static_cast<std::size_t>(o.questions_per_video));
    for (std::size_t q = 0; q < take; ++q) {
      Option& option = eligible[q];
      int fewest = INT32_MAX;
      for (const std::string& answer : option.acceptable)
        fewest = std::min(fewest, given[option.tmpl][answer]);
      std::vector<std::string> rare;
      for (const std::string& answer : option.acceptable) {
        if (given[option.tmpl][answer] == fewest) rare.push_back(answer);
      }
      const std::string answer = rng.pick(rare);
      std::vector<std::size_t> with_answer;
      for (std::size_t c = 0; c < option.candidates.size(); ++c) {
        if (option.candidates[c].answer == answer) with_answer.push_back(c);
      }
      const QuestionCandidate& chosen = option.candidates[rng.pick(with_answer)];
      ++usage[option.tmpl];
      ++given[option.tmpl][answer];
      questions.push_back({v, static_cast<int>(option.tmpl), chosen});
    }
  }
  return questions;
}

// `["a", "b"]`: a list stored as a string, spaced as in the MUSIC-AVQA files.
std::string list_string(const std::vector<std::string>& items) {
  std::string out = "[";
  for (std::size_t i = 0; i < items.size(); ++i)
    out += (i ? ", " : "") + nlohmann::json(items[i]).dump();
  return out + "]";
}

ordered_json annotation_record(const std::string& video, int question_id, const Question& q) {
  const QuestionTemplate& tmpl = question_templates()[static_cast<std::size_t>(q.template_id)];
  return ordered_json{
      {"video_id", video},
      {"question_id", question_id},
      {"type", list_string({std::string(data::modality_name(data::modality_of(tmpl.type))),
                            std::string(data::type_name(tmpl.type))})},
      {"question_content", std::string(tmpl.text)},
      {"templ_values", list_string(q.candidate.values)},
      {"question_deleted", 0},
      {"anser", q.candidate.answer},
  };
}

std::vector<int> assign_splits(const GeneratorOptions& o) {
  std::vector<int> order(static_cast<std::size_t>(o.videos));
  for (int i = 0; i < o.videos; ++i)
    order[static_cast<std::size_t>(i)] = i;
  Rng rng(derive_seed(o.seed, 0x5EED5EEDULL));
  rng.shuffle(order);
  const int train = static_cast<int>(std::lround(o.split[0] * o.videos));
  const int val = std::min(o.videos - train, static_cast<int>(std::lround(o.split[1] * o.videos)));
  std::vector<int> split(static_cast<std::size_t>(o.videos));
  for (int k = 0; k < o.videos; ++k)
    split[static_cast<std::size_t>(order[static_cast<std::size_t>(k)])] = k < train         ? 0
                                                                          : k < train + val ? 1
                                                                                            : 2;
  return split;
}

ordered_json parameters_json(const GeneratorOptions& o) {
  const SceneParams& s = o.scene;
  ordered_json out{{"videos", o.videos},
                   {"seconds", s.seconds},
                   {"size", s.width},
                   {"video_fps", o.video_fps},
                   {"sample_rate", o.sample_rate},
                   {"instruments", {s.min_instruments, s.max_instruments}},
                   {"ensemble_rate", s.ensemble_rate},
                   {"ensemble_max", s.ensemble_max},
                   {"voiceover_rate", s.voiceover_rate},
                   {"split", o.split},
                   {"questions_per_video", o.questions_per_video},
                   {"silent_rate", s.silent_rate},
                   {"offscreen_rate", s.offscreen_rate},
                   {"duplicate_rate", s.duplicate_rate},
                   {"outdoor_rate", s.outdoor_rate},
                   {"clutter", s.clutter},
                   {"blur", s.blur_sigma},
                   {"snr_db", s.snr_db ? ordered_json(*s.snr_db) : ordered_json(nullptr)},
                   {"imbalance", s.imbalance},
                   {"ambiguous_audio", s.ambiguous_audio},
                   {"ambiguous_snr_db", s.imbalance_snr_db},
                   {"video_prefix", o.video_prefix},
                   {"classes", o.classes}};
  // Only when set: manifests written before the option existed stay what they were.
  if (s.playing_tilt != 0) out["playing_tilt"] = s.playing_tilt;
  if (s.shared_backgrounds != 0) out["shared_backgrounds"] = s.shared_backgrounds;
  return out;
}

void prepare_output(const GeneratorOptions& o) {
  std::error_code ec;
  if (fs::exists(o.out, ec) && !fs::is_directory(o.out, ec)) {
    throw std::invalid_argument(o.out.string() + ": exists and is not a folder");
  }
  if (fs::exists(o.out, ec) && !fs::is_empty(o.out, ec)) {
    if (!o.overwrite) {
      throw std::invalid_argument(
          o.out.string() +
          ": folder is not empty; pass --overwrite to replace a generated dataset");
    }
    for (const char* generated : {"videos", "annotations", "truth", "manifest.json"})
      fs::remove_all(o.out / generated);
  }
  for (const char* folder : {"videos", "annotations", "truth"})
    fs::create_directories(o.out / folder);
}

}  // namespace

void validate(const GeneratorOptions& o) {
  auto require = [](bool ok, const std::string& what) {
    if (!ok) throw std::invalid_argument(what);
  };
  const SceneParams& s = o.scene;
  require(!o.out.empty(), "--out: an output folder is required");
  require(o.videos >= 1 && o.videos <= 1000000, "--videos must be in 1..1000000");
  require(s.seconds >= 1 && s.seconds <= 600, "--seconds must be in 1..600");
  require(s.width >= 32 && s.width <= 1024 && s.width % 2 == 0,
          "--size must be even and in 32..1024");
  require(s.height == s.width, "frames are square: width and height must match");
  require(o.video_fps >= 1 && o.video_fps <= 60, "--video-fps must be in 1..60");
  require(o.sample_rate >= 8000 && o.sample_rate <= 48000 && o.sample_rate % o.video_fps == 0,
          "--sample-rate must be in 8000..48000 and a multiple of --video-fps");
  require(
      s.min_instruments >= 1 && s.min_instruments <= s.max_instruments && s.max_instruments <= 6,
      "--instruments must be a range within 1-6, e.g. 1-4");
  require(s.ensemble_max >= 5 && s.ensemble_max <= 9, "--ensemble-max must be in 5..9");
  require(s.shared_backgrounds >= 0 && s.shared_backgrounds <= 1000,
          "--shared-backgrounds must be in 0..1000");
  const double total = o.split[0] + o.split[1] + o.split[2];
  require(o.split[0] >= 0 && o.split[1] >= 0 && o.split[2] >= 0 && std::abs(total - 1.0) < 1e-6,
          "--split must be three non-negative shares summing to 1, e.g. 0.7,0.1,0.2");
  require(o.questions_per_video >= 1 && o.questions_per_video <= 64,
          "--questions-per-video must be in 1..64");
  require(o.jobs >= 0, "--jobs must be >= 0");
  require(o.classes >= 0 && o.classes <= 22,
          "--classes must be in 0..22 (0: no classification labels)");
  for (const auto& [value, name] :
       {std::pair{s.silent_rate, "--silent-rate"}, std::pair{s.offscreen_rate, "--offscreen-rate"},
        std::pair{s.duplicate_rate, "--duplicate-rate"},
        std::pair{s.outdoor_rate, "--outdoor-rate"}, std::pair{s.clutter, "--clutter"},
        std::pair{s.ensemble_rate, "--ensemble-rate"},
        std::pair{s.voiceover_rate, "--voiceover-rate"}}) {
    require(value >= 0 && value <= 1, std::string(name) + " must be in 0..1");
  }
  require(s.imbalance >= -1 && s.imbalance <= 1, "--imbalance must be in -1..1");
  require(s.ambiguous_audio >= 0 && s.ambiguous_audio + std::max(0.0, s.imbalance) <= 1,
          "--ambiguous-audio must be >= 0 and at most 1 - --imbalance");
  require(s.ambiguous_audio == 0 || o.classes > 0, "--ambiguous-audio needs --classes");
  require(s.imbalance_snr_db >= -40 && s.imbalance_snr_db <= 40,
          "--ambiguous-snr must be in -40..40 dB");
  require(s.blur_sigma >= 0 && s.blur_sigma <= 20, "--blur must be in 0..20 pixels");
  require(s.playing_tilt >= 0 && s.playing_tilt <= 45, "--playing-tilt must be in 0..45 degrees");
  require(!s.snr_db || (*s.snr_db >= -20 && *s.snr_db <= 80), "--snr must be in -20..80 dB");
  require(!o.video_prefix.empty() && o.video_prefix.find_first_of("/\\ .") == std::string::npos,
          "--prefix must be a non-empty name without '/', '\\', '.' or spaces");
}

namespace {

Context make_context(const GeneratorOptions& options) {
  Context ctx{options,
              options.instrument_table.empty() ? InstrumentTable::builtin()
                                               : InstrumentTable::load(options.instrument_table),
              options.soundfont.empty() ? fs::path(kDefaultSoundfont) : options.soundfont,
              {}};
  {
    InstrumentSynth probe(
        ctx.soundfont,
        options.sample_rate);  // fails early, naming the package, if the font is missing
  }
  // Spoken once, before the workers start: every clip with a voiceover shares these samples.
  if (options.scene.voiceover_rate > 0 && options.classes == 0) {
    const SpeechSynth speech(options.sample_rate);
    for (const VoiceLine& line : voiceover_lines())
      ctx.voice_lines.push_back(speech.speak(line));
  }
  return ctx;
}

}  // namespace

std::vector<SceneTruth> measure_truths(const GeneratorOptions& options, int count) {
  GeneratorOptions o = options;
  o.videos = std::max(1, count);
  if (o.out.empty()) o.out = ".";  // nothing is written
  validate(o);
  const Context ctx = make_context(o);
  InstrumentSynth synth(ctx.soundfont, o.sample_rate);
  std::vector<SceneTruth> out;
  for (int i = 0; i < count; ++i)
    out.push_back(measure_clip(ctx, synth, i).truth);
  return out;
}

GenerationSummary generate_dataset(const GeneratorOptions& options) {
  validate(options);
  const auto start = std::chrono::steady_clock::now();
  const Context ctx = make_context(options);
  prepare_output(options);
  const std::vector<SceneTruth> truths = render_all(ctx);
  const std::vector<Question> questions = choose_questions(ctx, truths);
  const std::vector<int> split = assign_splits(options);

  // Annotations, split by video; question ids run over the whole dataset.
  std::array<ordered_json, 3> records = {ordered_json::array(), ordered_json::array(),
                                         ordered_json::array()};
  GenerationSummary summary;
  summary.videos = options.videos;
  for (const int s : split)
    ++summary.videos_per_split[static_cast<std::size_t>(s)];
  const auto& templates = question_templates();
  std::vector<std::array<std::map<std::string, int>, 3>> answers_per_template(templates.size());
  std::array<std::array<int, data::kNumQuestionTypes>, 3> per_type{};
  std::map<std::string, int> answers;
  for (std::size_t q = 0; q < questions.size(); ++q) {
    const Question& question = questions[q];
    const auto s = static_cast<std::size_t>(split[question.video]);
    records[s].push_back(
        annotation_record(truths[question.video].video_id, static_cast<int>(q), question));
    ++summary.questions_per_split[s];
    ++answers_per_template[static_cast<std::size_t>(question.template_id)][s]
                          [question.candidate.answer];
    ++per_type[s][data::index_of(templates[static_cast<std::size_t>(question.template_id)].type)];
    ++answers[question.candidate.answer];
  }
  for (std::size_t s = 0; s < 3; ++s) {
    core::write_file_atomically(
        options.out / "annotations" / (std::string("avqa-") + kSplitNames[s] + ".json"),
        records[s].dump(2) + "\n");
  }
  if (options.classes > 0) {
    std::array<std::string, 3> rows = {"video_id,label\n", "video_id,label\n", "video_id,label\n"};
    for (std::size_t v = 0; v < truths.size(); ++v)
      rows[static_cast<std::size_t>(split[v])] += truths[v].video_id + "," + truths[v].label + "\n";
    for (std::size_t s = 0; s < 3; ++s) {
      core::write_file_atomically(
          options.out / "annotations" / (std::string("class-") + kSplitNames[s] + ".csv"), rows[s]);
    }
    std::string names;
    for (int c = 0; c < options.classes; ++c)
      names += ctx.table.at(static_cast<std::size_t>(c)).name + "\n";
    core::write_file_atomically(options.out / "annotations" / "classes.txt", names);
  }

  // Manifest: how the dataset was made and how balanced it came out.
  ordered_json template_report = ordered_json::array();
  ordered_json omitted = ordered_json::array();
  std::size_t blind_correct = 0;
  std::size_t blind_total = 0;
  for (const QuestionTemplate& tmpl : templates) {
    if (!tmpl.unsupported_reason.empty()) {
      omitted.push_back({{"template", tmpl.text}, {"reason", tmpl.unsupported_reason}});
      continue;
    }
    std::map<std::string, int> all;
    for (const auto& per_split : answers_per_template[static_cast<std::size_t>(tmpl.id)]) {
      for (const auto& [answer, n] : per_split)
        all[answer] += n;
    }
    int asked = 0;
    int majority = 0;
    for (const auto& [answer, n] : all) {
      asked += n;
      majority = std::max(majority, n);
    }
    // Blind baseline: the template's most frequent training answer, scored on test.
    const auto& train = answers_per_template[static_cast<std::size_t>(tmpl.id)][0];
    std::string guess;
    int best = -1;
    for (const auto& [answer, n] : train) {
      if (n > best) {
        best = n;
        guess = answer;
      }
    }
    for (const auto& [answer, n] : answers_per_template[static_cast<std::size_t>(tmpl.id)][2]) {
      blind_total += static_cast<std::size_t>(n);
      if (answer == guess) blind_correct += static_cast<std::size_t>(n);
    }
    template_report.push_back(
        {{"id", tmpl.id},
         {"type", std::string(data::short_label(tmpl.type))},
         {"template", tmpl.text},
         {"questions", asked},
         {"majority_share", asked ? std::round(1000.0 * majority / asked) / 1000.0 : 0.0},
         {"answers", all}});
  }
  ordered_json splits = ordered_json::object();
  for (std::size_t s = 0; s < 3; ++s) {
    ordered_json types = ordered_json::object();
    for (const auto type : data::kAllQuestionTypes)
      types[std::string(data::short_label(type))] = per_type[s][data::index_of(type)];
    splits[kSplitNames[s]] = {{"videos", summary.videos_per_split[s]},
                              {"questions", summary.questions_per_split[s]},
                              {"questions_per_type", types}};
  }
  ordered_json manifest = {
      {"format", "avqa-synthetic-music-avqa"},
      {"generator_version", kGeneratorVersion},
      {"seed", options.seed},
      {"parameters", parameters_json(options)},
      {"soundfont",
       {{"file", ctx.soundfont.filename().string()}, {"sha256", core::sha256_file(ctx.soundfont)}}},
      {"speech",
       ctx.voice_lines.empty() ? ordered_json(nullptr) : ordered_json(SpeechSynth::version())},
      {"instrument_table",
       {{"source", options.instrument_table.empty() ? "built-in resources/instruments.json"
                                                    : options.instrument_table.string()},
        {"instruments", ctx.table.size()}}},
      {"splits", splits},
      {"answers", answers},
      {"templates", template_report},
      {"omitted_templates", omitted},
      {"blind_baseline",
       {{"rule", "most frequent training answer per template, scored on test"},
        {"test_questions", blind_total},
        {"accuracy", blind_total ? std::round(10000.0 * static_cast<double>(blind_correct) /
                                              static_cast<double>(blind_total)) /
                                       100.0
                                 : 0.0}}},
      {"interpretations",
       {{"heard", "a 20 ms frame of the instrument's own track above -45 dBFS"},
        {"sounding",
         "played: heard, or a silence of under 0.6 s between heard frames (the gap between two "
         "notes); a second sounds when half of it is played"},
        {"louder", "dBFS of the mean power over heard frames, at least 3 dB apart"},
        {"more rhythmic",
         "onsets (a level jump, or 30 % of the power in spectral bins that rose 9 dB: a new "
         "note) per second played, at least 0.5 and 1.5x apart"},
        {"playing longer", "time played, at least 1 s apart"},
        {"lowest", "the quietest sounding instrument"},
        {"did not sound from beginning to end", "visible instruments that never sound"},
        {"first/last sounding, comes in, before/after",
         "order of the first heard frame of every heard instrument, on screen or off, entries "
         "at least 0.5 s apart; 'simultaneously' within 0.1 s; between the two, not asked"},
        {"voiceover", "a narrator's line (espeak-ng) heard over the music"},
        {"in the video", "visible; an off-screen source is heard but not seen"}}},
  };
  core::write_file_atomically(options.out / "manifest.json", manifest.dump(2) + "\n");
  summary.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return summary;
}

}  // namespace avqa::synthetic
