#pragma once

#include <array>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "datasets/synthetic/scene.h"

namespace avqa::synthetic {

/// How a rendered stem is turned into "sounding", "loudness" and "onsets".
struct StemAnalysisParams {
  double frame_seconds = 0.02;    ///< RMS frame (non-overlapping)
  double sounding_db = -45;       ///< a frame sounds when its RMS is above this (dBFS)
  double second_fraction = 0.5;   ///< a second sounds when this share of its frames does
  double onset_rise_db = 9;       ///< an onset: RMS rises this much above the recent minimum...
  double onset_lookback = 0.1;    ///< ...over this many seconds
  double onset_refractory = 0.1;  ///< and no other onset this close before it
};

/// Measurements of one instrument's own rendered track.
struct StemAnalysis {
  std::vector<float> frame_db;  ///< RMS per frame, dBFS
  std::vector<bool> frame_sounding;
  std::vector<float> rms_per_second;  ///< linear RMS of each second
  std::vector<bool> sounding_per_second;
  double sounding_seconds = 0;  ///< frames above threshold x frame length
  double loudness_db = -120;    ///< mean dB over sounding frames (-120 when silent)
  std::vector<double> onsets;   ///< seconds
  double onset_rate = 0;        ///< onsets per sounding second
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
  double sounding_seconds = 0;
  double loudness_db = -120;
  double onset_rate = 0;
  std::vector<double> onsets;

  bool sounds() const;
  /// First and last sounding second; empty when silent.
  std::optional<int> first_second() const;
  std::optional<int> last_second() const;
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
/// Reads what to_json wrote: who is where and who sounds when, whether motion was suppressed,
/// the classification label (loudness, onsets and the mix settings are left at their defaults).
/// Throws core::InputError naming the file and field.
SceneTruth load_truth(const std::filesystem::path& file);

}  // namespace avqa::synthetic
