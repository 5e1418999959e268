#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "datasets/synthetic/instrument_table.h"
#include "datasets/synthetic/scene.h"

namespace avqa::synthetic {

/// Debian's General MIDI soundfont (package fluid-soundfont-gm, MIT licence).
inline constexpr const char* kDefaultSoundfont = "/usr/share/sounds/sf2/FluidR3_GM.sf2";

/// Renders one instrument part at a time with libfluidsynth, offline (no audio device). One
/// instance per thread: loading the soundfont is the expensive step; each part then renders on
/// a fresh synthesiser sharing the font, so the same font, events and sample rate give
/// bit-identical samples whatever was rendered before.
class InstrumentSynth {
 public:
  /// Throws std::runtime_error naming the Debian package when the soundfont is missing.
  InstrumentSynth(const std::filesystem::path& soundfont, int sample_rate);
  ~InstrumentSynth();
  InstrumentSynth(const InstrumentSynth&) = delete;
  InstrumentSynth& operator=(const InstrumentSynth&) = delete;

  /// Mono samples in [-1, 1], `seconds` long, of `notes` played on `spec`'s preset.
  std::vector<float> render(const InstrumentSpec& spec,
                            const std::vector<NoteEvent>& notes,
                            double seconds);

  /// Whether the font has `spec`'s preset (else a fallback of the same program in bank 0).
  bool has_preset(const InstrumentSpec& spec) const;
  int sample_rate() const { return sample_rate_; }

 private:
  struct Handles;
  std::unique_ptr<Handles> handles_;
  int sample_rate_;
};

}  // namespace avqa::synthetic
