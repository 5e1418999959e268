#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "datasets/synthetic/instrument_table.h"
#include "datasets/synthetic/random.h"

namespace avqa::synthetic {

/// The three horizontal thirds of the frame, MUSIC-AVQA's <LR> values.
enum class Column { Left, Middle, Right };
const char* to_string(Column column);

/// Pixel box [x0, x1) x [y0, y1).
struct Box {
  int x0 = 0;
  int y0 = 0;
  int x1 = 0;
  int y1 = 0;
  double center_x() const { return 0.5 * (x0 + x1); }
  double center_y() const { return 0.5 * (y0 + y1); }
  int width() const { return x1 - x0; }
  int height() const { return y1 - y0; }
};

/// One note (or drum hit) of an instrument's part.
struct NoteEvent {
  double start = 0;     ///< seconds
  double duration = 0;  ///< seconds until note-off
  int key = 60;
  int velocity = 100;
};

/// Knobs of scene sampling; the defaults make every question template feasible often.
struct SceneParams {
  int seconds = 10;
  int width = 224;
  int height = 224;
  int min_instruments = 1;  ///< visible instruments per scene
  int max_instruments = 4;
  double voiceover_rate = 0.25;  ///< chance a narrator speaks over the music (espeak-ng)
  double ensemble_rate = 0.1;    ///< chance of an ensemble instead: 5..ensemble_max instruments
  int ensemble_max = 9;          ///< in up to three rows (at most 9)
  double silent_rate = 0.25;     ///< chance a visible instrument never sounds (a distractor)
  double offscreen_rate = 0.3;   ///< chance of an extra instrument heard but not seen
  double duplicate_rate = 0.3;   ///< chance the scene holds two instances of one class
  double outdoor_rate = 0.5;     ///< chance of an outdoor background
  /// > 0: every clip takes one of this many fixed backgrounds of its kind (stage or outdoors,
  /// the same colours wherever drawn), so a background cannot tell clips apart; 0: each clip's
  /// colours are drawn afresh.
  int shared_backgrounds = 0;
  double clutter = 0.0;     ///< 0..1: background shapes and partial occluders
  double blur_sigma = 0.0;  ///< Gaussian blur of every frame, pixels
  /// A sounding instrument is drawn tilted by this many degrees (swaying between 0.6x and 1x of
  /// it, one side or the other), so one frame shows who plays, as a player's pose does in real
  /// videos; silent ones stand upright. 0: the bob alone, which a single frame cannot tell
  /// from standing still.
  double playing_tilt = 0.0;
  std::optional<double> snr_db;  ///< white noise at this SNR (dB) against the mix; none = clean
  double imbalance = 0.0;  ///< -1..1: >0 removes visual motion cues, <0 buries audio in noise, in
                           ///< that share of clips
  double imbalance_snr_db = -5;  ///< SNR of the noise that buries audio when imbalance < 0
  /// classification mode only: this share of clips has its audio buried (at imbalance_snr_db)
  /// besides the visually ambiguous share that imbalance > 0 sets, the two disjoint (their sum
  /// at most 1): each modality then decides clips the other cannot.
  double ambiguous_audio = 0.0;
};

/// An instrument as planned: what it is, where it stands, what it plays. What it *sounds*
/// like is measured after rendering (truth.h), and the answers use the measurement.
struct PlannedInstrument {
  std::size_t spec = 0;  ///< index into the instrument table
  bool visible = true;
  Box box;
  Column column = Column::Middle;
  bool flip = false;                          ///< sprite mirrored horizontally
  double brightness = 1.0;                    ///< sprite colour scale
  std::vector<std::array<int, 2>> intervals;  ///< planned sounding seconds [start, end)
  std::vector<NoteEvent> notes;
  double gain_db = 0;  ///< applied to the rendered stem
  double motion_phase = 0;
};

/// A coloured shape drawn behind (clutter) or in front of (occluder) the instruments.
struct ClutterShape {
  bool occluder = false;
  bool circle = false;
  Box box;
  std::array<unsigned char, 3> rgb{};
  double alpha = 1.0;
};

/// A narrator's line spoken over the music: the real data's "Is there a voiceover?".
struct VoiceoverPlan {
  std::size_t line = 0;  ///< index into voiceover_lines()
  double start = 0;      ///< seconds
  double gain_db = 0;    ///< applied to the spoken line
};

struct Scene {
  bool outdoor = false;
  std::array<unsigned char, 3> backdrop{};     ///< wall or sky colour
  std::array<unsigned char, 3> floor{};        ///< floor or grass colour
  std::vector<PlannedInstrument> instruments;  ///< visible ones first, off-screen ones last
  std::vector<ClutterShape> clutter;
  bool motion_suppressed = false;  ///< imbalance: sounding instruments do not move in this clip
  std::optional<double> snr_db;    ///< noise added to the mix; none = clean
  std::optional<VoiceoverPlan> voiceover;
};

/// The classification mode of the generator (`avqa generate --classes N`): every clip's label is
/// the one instrument that sounds, from its first to its last second, one of the table's first
/// `classes` instruments. `imbalance` (SceneParams) sets which modality is the clear one: > 0
/// makes that share of clips visually ambiguous (two or three instruments on screen, one
/// sounding, none moving), < 0 makes that share of clips acoustically ambiguous (the sound
/// buried in noise at imbalance_snr_db, the one instrument plainly on screen). ambiguous_audio
/// adds acoustically ambiguous clips to the visually ambiguous ones.
struct ClassificationScene {
  Scene scene;
  std::size_t label = 0;  ///< index into the instrument table (< classes)
  bool visual_ambiguous = false;
  bool audio_ambiguous = false;
};
ClassificationScene sample_classification_scene(const InstrumentTable& table,
                                                const SceneParams& params,
                                                int classes,
                                                Rng& rng);

/// Samples a scene: background, 1..N visible instruments in non-ambiguous columns (centres at
/// least width/12 from a column boundary), sounding intervals on whole seconds, melodies or
/// rhythms, loudness levels, optional off-screen source, clutter.
Scene sample_scene(const InstrumentTable& table, const SceneParams& params, Rng& rng);

}  // namespace avqa::synthetic
