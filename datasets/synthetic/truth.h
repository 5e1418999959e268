#pragma once

#include <array>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "datasets/synthetic/scene.h"

namespace avqa::synthetic {

/// How a rendered stem is turned into "sounding", "loudness" and "onsets", as a listener would
/// judge them: a part keeps sounding through the short gaps between its notes, decaying notes
/// count as long as they are heard, and a change of note is an onset even when the level stays.
struct StemAnalysisParams {
  double frame_seconds = 0.02;   ///< RMS frame (non-overlapping)
  double sounding_db = -45;      ///< a frame is heard when its RMS is above this (dBFS)
  double bridge_seconds = 0.6;   ///< a silence shorter than this between heard frames is played
  double second_fraction = 0.5;  ///< a second sounds when this share of it is played
  /// An onset is a heard frame where the overall level rose onset_rise_db above its minimum
  /// over onset_lookback (a note after silence, a drum hit), or where spectral bins holding
  /// onset_new_energy of the frame's power rose onset_rise_db above their maximum over
  /// onset_spectral_lookback (a new note of a legato part: the level does not dip, the pitch
  /// changes; the longer look back spans a vibrato cycle, so vibrato is not a new note).
  double onset_rise_db = 9;
  double onset_lookback = 0.1;
  double onset_spectral_lookback = 0.2;
  double onset_new_energy = 0.3;
  double onset_refractory = 0.1;  ///< no other onset this close before it
  int spectrum_size = 1024;       ///< FFT window (power of two), centred on each frame
};

/// Measurements of one instrument's own rendered track.
struct StemAnalysis {
  std::vector<float> frame_db;            ///< RMS per frame, dBFS
  std::vector<bool> frame_sounding;       ///< heard: above sounding_db
  std::vector<bool> frame_playing;        ///< heard, or inside a short gap between heard frames
  std::vector<float> rms_per_second;      ///< linear RMS of each second
  std::vector<bool> sounding_per_second;  ///< played for second_fraction of the second
  double sounding_seconds = 0;            ///< time played (gaps between notes included)
  std::optional<double> first_sound;      ///< start of the first heard frame, seconds
  std::optional<double> last_sound;       ///< end of the last heard frame, seconds
  double loudness_db = -120;   ///< dB of the mean power over heard frames (-120 when silent)
  std::vector<double> onsets;  ///< seconds
  double onset_rate = 0;       ///< onsets per second played
};

StemAnalysis analyse_stem(const std::vector<float>& samples,
                          int sample_rate,
                          int seconds,
                          const StemAnalysisParams& params = {});

/// Ground truth of one instrument instance, measured from what was rendered.
struct InstrumentTruth {
  std::string name;
  bool visible = true;
  Column column = Column::Middle;     ///< visible instruments only
  Box box;                            ///< resting box
  std::vector<Box> boxes_per_second;  ///< box at the middle of each second, motion included
  std::vector<std::array<int, 2>> sounding_intervals;  ///< merged sounding seconds [start, end)
  std::vector<bool> sounding_per_second;
  std::vector<float> rms_per_second;
  double sounding_seconds = 0;        ///< time played, gaps between notes included
  std::optional<double> first_sound;  ///< when it is first heard, seconds
  std::optional<double> last_sound;   ///< when it is last heard, seconds
  double loudness_db = -120;
  double onset_rate = 0;
  std::vector<double> onsets;

  bool sounds() const;
  /// First and last sounding second; empty when silent.
  std::optional<int> first_second() const;
  std::optional<int> last_second() const;
};

/// A narrator's line heard over the music, measured from its own rendered track.
struct VoiceoverTruth {
  std::string text;
  std::optional<double> first_sound;  ///< seconds
  std::optional<double> last_sound;
  double loudness_db = -120;
};

/// Ground truth of one generated clip: what `DIR/truth/<video_id>.json` holds.
struct SceneTruth {
  std::string video_id;
  int seconds = 10;
  int fps = 8;
  int width = 224;
  int height = 224;
  std::string background;                    ///< "indoor" or "outdoor"
  std::vector<InstrumentTruth> instruments;  ///< visible ones first, then any off-screen source
  std::optional<VoiceoverTruth> voiceover;   ///< none: no speech in the clip
  bool motion_suppressed = false;
  std::optional<double> snr_db;
  double mix_gain = 1;
  /// Classification mode: the label (the instrument that sounds) and which modality was made
  /// ambiguous ("visual", "audio" or "none"); empty otherwise.
  std::string label;
  std::string ambiguous;

  std::vector<std::size_t> visible() const;
  bool offscreen_sounds() const;
};

std::string to_json(const SceneTruth& truth);
/// Reads what to_json wrote: who is where, who sounds when and how (loudness, onsets, time
/// played), whether motion was suppressed, the classification label (the mix settings are left at
/// their defaults).
/// Throws core::InputError naming the file and field.
SceneTruth load_truth(const std::filesystem::path& file);

/// The clips of a dataset `avqa generate` wrote: the names of `data`/truth/*.json without the
/// extension, sorted. Throws core::InputError naming `data` when it has no truth/ folder.
std::vector<std::string> truth_video_ids(const std::filesystem::path& data);

}  // namespace avqa::synthetic
