// `avqa generate`: the synthetic MUSIC-AVQA dataset.
#include <cstdio>
#include <iostream>
#include <memory>
#include <sstream>

#include <CLI/CLI.hpp>

#include "datasets/synthetic/generator.h"
#include "tools/commands.h"

namespace avqa::tools {
namespace {

struct GenerateArgs {
  synthetic::GeneratorOptions options;
  std::string out;
  std::string instruments = "1-4";
  std::string split = "0.7,0.1,0.2";
  std::string soundfont;
  std::string table;
  double snr = 0;
  bool quiet = false;
};

void parse_instruments(const std::string& text, synthetic::SceneParams& scene) {
  const auto dash = text.find('-');
  try {
    std::size_t used = 0;
    if (dash == std::string::npos) {
      scene.min_instruments = scene.max_instruments = std::stoi(text, &used);
      if (used != text.size()) throw std::invalid_argument(text);
    } else {
      scene.min_instruments = std::stoi(text.substr(0, dash), &used);
      if (used != dash) throw std::invalid_argument(text);
      scene.max_instruments = std::stoi(text.substr(dash + 1), &used);
      if (used != text.size() - dash - 1) throw std::invalid_argument(text);
    }
  } catch (const std::exception&) {
    throw std::invalid_argument("--instruments: expected a count or a range such as 1-4, got '" +
                                text + "'");
  }
}

std::array<double, 3> parse_split(const std::string& text) {
  std::array<double, 3> shares{};
  std::stringstream in(text);
  std::string part;
  std::size_t n = 0;
  while (std::getline(in, part, ',')) {
    if (n == 3) throw std::invalid_argument("--split: expected three shares, got '" + text + "'");
    try {
      std::size_t used = 0;
      shares[n++] = std::stod(part, &used);
      if (used != part.size()) throw std::invalid_argument(part);
    } catch (const std::exception&) {
      throw std::invalid_argument("--split: '" + part + "' is not a number");
    }
  }
  if (n != 3)
    throw std::invalid_argument("--split: expected three shares train,val,test, got '" + text +
                                "'");
  return shares;
}

void run_generate(GenerateArgs& args, const CLI::App& cmd) {
  synthetic::GeneratorOptions& o = args.options;
  o.out = args.out;
  o.soundfont = args.soundfont;
  o.instrument_table = args.table;
  o.scene.height = o.scene.width;
  o.progress = !args.quiet;
  parse_instruments(args.instruments, o.scene);
  // Asking for a number of instruments means that number: ensembles only when asked for too.
  if (cmd.count("--instruments") > 0 && cmd.count("--ensemble-rate") == 0)
    o.scene.ensemble_rate = 0;
  o.split = parse_split(args.split);
  if (cmd.count("--snr") > 0) o.scene.snr_db = args.snr;
  const synthetic::GenerationSummary summary = synthetic::generate_dataset(o);
  std::printf("wrote %d videos to %s in %.1f s (%.2f videos/s)\n", summary.videos, o.out.c_str(),
              summary.seconds, summary.videos / summary.seconds);
  const char* names[] = {"train", "val", "test"};
  for (int s = 0; s < 3; ++s) {
    std::printf("  %-5s %5d videos %6d questions  annotations/avqa-%s.json\n", names[s],
                summary.videos_per_split[s], summary.questions_per_split[s], names[s]);
  }
  std::printf("truth per video in truth/, balance and blind baseline in manifest.json\n");
}

}  // namespace

void add_generate_command(CLI::App& app) {
  auto args = std::make_shared<GenerateArgs>();
  synthetic::GeneratorOptions& o = args->options;
  CLI::App* cmd = app.add_subcommand(
      "generate",
      "Generate a synthetic MUSIC-AVQA dataset: MP4 videos (H.264 + AAC) of instruments on a "
      "stage, questions of\n"
      "all nine types with answers computed from the rendered signals, and per-video ground truth");
  cmd->add_option("--out", args->out, "Output folder")->required();
  cmd->add_option("--videos", o.videos, "Number of videos")->capture_default_str();
  cmd->add_option("--seed", o.seed, "Random seed; the same arguments give the same dataset")
      ->capture_default_str();
  cmd->add_option("--seconds", o.scene.seconds, "Length of each video in seconds")
      ->capture_default_str();
  cmd->add_option("--size", o.scene.width, "Frame width and height in pixels")
      ->capture_default_str();
  cmd->add_option("--video-fps", o.video_fps, "Video frame rate")->capture_default_str();
  cmd->add_option("--sample-rate", o.sample_rate, "Audio sample rate")->capture_default_str();
  cmd->add_option("--instruments", args->instruments,
                  "Visible instruments per video: a count or a range")
      ->capture_default_str();
  cmd->add_option("--split", args->split, "train,val,test shares of the videos")
      ->capture_default_str();
  cmd->add_option("--questions-per-video", o.questions_per_video,
                  "Questions asked about each video")
      ->capture_default_str();
  cmd->add_option("--jobs", o.jobs, "Worker threads (0 = all CPUs)")->capture_default_str();
  cmd->add_flag("--overwrite", o.overwrite, "Replace a generated dataset in a non-empty folder");
  cmd->add_option("--soundfont", args->soundfont,
                  "SoundFont (default: Debian's FluidR3_GM.sf2, package fluid-soundfont-gm)");
  cmd->add_option("--instrument-table", args->table,
                  "Instrument table JSON (default: built-in resources/instruments.json)");
  cmd->add_option("--prefix", o.video_prefix, "Video id prefix")->capture_default_str();
  cmd->add_option("--classes", o.classes,
                  "Classification mode with this many classes (the first instruments of the "
                  "table): one sounding instrument per video, its label in "
                  "annotations/class-{train,val,test}.csv; --imbalance > 0 makes that share of "
                  "videos visually ambiguous, < 0 acoustically")
      ->capture_default_str();
  cmd->add_flag("--quiet", args->quiet, "No progress line");
  auto* knobs = cmd->add_option_group("difficulty", "Difficulty knobs");
  knobs
      ->add_option("--clutter", o.scene.clutter,
                   "0..1: background shapes and occluders over instruments")
      ->capture_default_str();
  knobs->add_option("--blur", o.scene.blur_sigma, "Gaussian blur of the frames, in pixels")
      ->capture_default_str();
  knobs->add_option("--snr", args->snr,
                    "Add white noise at this signal-to-noise ratio (dB); default: clean");
  knobs
      ->add_option("--silent-rate", o.scene.silent_rate, "Chance a visible instrument stays silent")
      ->capture_default_str();
  knobs
      ->add_option("--offscreen-rate", o.scene.offscreen_rate,
                   "Chance of an extra instrument heard but not seen")
      ->capture_default_str();
  knobs
      ->add_option("--voiceover-rate", o.scene.voiceover_rate,
                   "Chance a narrator speaks a line over the music (needs Debian's espeak-ng)")
      ->capture_default_str();
  knobs
      ->add_option("--ensemble-rate", o.scene.ensemble_rate,
                   "Chance of an ensemble of 5..--ensemble-max instruments in up to three rows "
                   "(0 when --instruments is given alone)")
      ->capture_default_str();
  knobs->add_option("--ensemble-max", o.scene.ensemble_max, "Largest ensemble (5..9)")
      ->capture_default_str();
  knobs
      ->add_option("--duplicate-rate", o.scene.duplicate_rate,
                   "Chance of two instruments of one class")
      ->capture_default_str();
  knobs->add_option("--outdoor-rate", o.scene.outdoor_rate, "Chance of an outdoor scene")
      ->capture_default_str();
  knobs
      ->add_option("--shared-backgrounds", o.scene.shared_backgrounds,
                   "N > 0: every video takes one of N fixed backgrounds, so the background cannot "
                   "tell videos apart (0: colours drawn per video)")
      ->capture_default_str();
  knobs
      ->add_option("--imbalance", o.scene.imbalance,
                   "-1..1: in this share of videos, >0 removes the motion of sounding instruments "
                   "(audio more\n"
                   "informative), <0 buries the audio in noise (vision more informative)")
      ->capture_default_str();
  knobs
      ->add_option("--ambiguous-audio", o.scene.ambiguous_audio,
                   "With --classes: this share of videos (besides the visually ambiguous ones of "
                   "--imbalance > 0) has its audio buried in noise, so each modality decides "
                   "videos the other cannot")
      ->capture_default_str();
  knobs
      ->add_option("--ambiguous-snr", o.scene.imbalance_snr_db,
                   "SNR (dB) of the noise that buries the audio of acoustically ambiguous videos")
      ->capture_default_str();
  knobs
      ->add_option("--playing-tilt", o.scene.playing_tilt,
                   "Degrees a sounding instrument is drawn tilted, so one frame shows who plays "
                   "as a player's pose does (0: sounding instruments only bob)")
      ->check(CLI::Range(0.0, 45.0))
      ->capture_default_str();
  cmd->callback([args, cmd] { run_generate(*args, *cmd); });
}

}  // namespace avqa::tools
