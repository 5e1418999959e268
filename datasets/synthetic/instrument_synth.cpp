#include "datasets/synthetic/instrument_synth.h"

#include <algorithm>
#include <cmath>
#include <fluidsynth.h>
#include <mutex>
#include <stdexcept>

namespace avqa::synthetic {
namespace {

constexpr int kMelodyChannel = 0;
constexpr int kDrumChannel = 9;  // General MIDI's percussion channel

void silence_fluidsynth_log() {
  static std::once_flag once;
  std::call_once(once, [] {
    for (const int level : {FLUID_PANIC, FLUID_ERR, FLUID_WARN, FLUID_INFO, FLUID_DBG}) {
      fluid_set_log_function(level, nullptr, nullptr);
    }
  });
}

}  // namespace

struct InstrumentSynth::Handles {
  fluid_settings_t* settings = nullptr;
  fluid_synth_t* loader = nullptr;  // owns the soundfont; never renders
  fluid_sfont_t* font = nullptr;
  ~Handles() {
    if (loader != nullptr) delete_fluid_synth(loader);
    if (settings != nullptr) delete_fluid_settings(settings);
  }
};

namespace {

// A synthesiser for one part: fresh, so nothing of an earlier part (voice filter state, queued
// blocks) leaks into this one, and sharing the already loaded soundfont.
class PartSynth {
 public:
  PartSynth(fluid_settings_t* settings, fluid_sfont_t* font) : font_(font) {
    synth_ = new_fluid_synth(settings);
    if (synth_ == nullptr) throw std::runtime_error("libfluidsynth could not create a synthesiser");
    font_id_ = fluid_synth_add_sfont(synth_, font_);
    if (font_id_ == FLUID_FAILED) {
      delete_fluid_synth(synth_);
      throw std::runtime_error("libfluidsynth could not share the loaded soundfont");
    }
  }
  ~PartSynth() {
    fluid_synth_remove_sfont(synth_, font_);  // the loader keeps ownership of the font
    delete_fluid_synth(synth_);
  }
  PartSynth(const PartSynth&) = delete;
  PartSynth& operator=(const PartSynth&) = delete;

  fluid_synth_t* get() const { return synth_; }
  int font_id() const { return font_id_; }

 private:
  fluid_sfont_t* font_;
  fluid_synth_t* synth_ = nullptr;
  int font_id_ = FLUID_FAILED;
};

}  // namespace

InstrumentSynth::InstrumentSynth(const std::filesystem::path& soundfont, int sample_rate)
    : handles_(std::make_unique<Handles>()), sample_rate_(sample_rate) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(soundfont, ec)) {
    throw std::runtime_error(
        "soundfont " + soundfont.string() +
        " not found: install Debian's fluid-soundfont-gm (apt-get install fluid-soundfont-gm) "
        "or pass --soundfont FILE.sf2");
  }
  silence_fluidsynth_log();
  handles_->settings = new_fluid_settings();
  fluid_settings_setnum(handles_->settings, "synth.sample-rate", sample_rate);
  fluid_settings_setint(handles_->settings, "synth.reverb.active", 0);
  fluid_settings_setint(handles_->settings, "synth.chorus.active", 0);
  fluid_settings_setint(handles_->settings, "synth.cpu-cores", 1);
  fluid_settings_setint(handles_->settings, "synth.polyphony", 32);
  fluid_settings_setnum(handles_->settings, "synth.gain", 0.5);
  handles_->loader = new_fluid_synth(handles_->settings);
  if (handles_->loader == nullptr)
    throw std::runtime_error("libfluidsynth could not create a synthesiser");
  const int id = fluid_synth_sfload(handles_->loader, soundfont.c_str(), 1);
  if (id == FLUID_FAILED)
    throw std::runtime_error(soundfont.string() + ": not a readable SoundFont");
  handles_->font = fluid_synth_get_sfont_by_id(handles_->loader, id);
}

InstrumentSynth::~InstrumentSynth() = default;

bool InstrumentSynth::has_preset(const InstrumentSpec& spec) const {
  return fluid_sfont_get_preset(handles_->font, spec.bank, spec.program) != nullptr;
}

std::vector<float> InstrumentSynth::render(const InstrumentSpec& spec,
                                           const std::vector<NoteEvent>& notes,
                                           double seconds) {
  const PartSynth part(handles_->settings, handles_->font);
  fluid_synth_t* synth = part.get();
  const int channel = spec.percussion() ? kDrumChannel : kMelodyChannel;
  if (spec.percussion()) fluid_synth_set_channel_type(synth, channel, CHANNEL_TYPE_DRUM);
  const int bank = has_preset(spec) ? spec.bank : 0;
  if (fluid_synth_program_select(synth, channel, part.font_id(), bank, spec.program) != FLUID_OK) {
    throw std::runtime_error("the soundfont has no preset " + std::to_string(bank) + "/" +
                             std::to_string(spec.program) + " for " + spec.name);
  }

  struct Event {
    long sample;
    bool on;
    int key;
    int velocity;
  };
  std::vector<Event> events;
  for (const NoteEvent& n : notes) {
    events.push_back({std::lround(n.start * sample_rate_), true, n.key, n.velocity});
    events.push_back({std::lround((n.start + n.duration) * sample_rate_), false, n.key, 0});
  }
  // Note-offs before note-ons at the same sample, so a repeated key restarts cleanly.
  std::stable_sort(events.begin(), events.end(), [](const Event& a, const Event& b) {
    return a.sample != b.sample ? a.sample < b.sample : (!a.on && b.on);
  });

  const long total = std::lround(seconds * sample_rate_);
  std::vector<float> left(static_cast<std::size_t>(total));
  std::vector<float> right(static_cast<std::size_t>(total));
  long cursor = 0;
  auto render_until = [&](long end) {
    end = std::min(end, total);
    if (end > cursor) {
      fluid_synth_write_float(synth, static_cast<int>(end - cursor), left.data() + cursor, 0, 1,
                              right.data() + cursor, 0, 1);
      cursor = end;
    }
  };
  for (const Event& e : events) {
    render_until(e.sample);
    if (e.on) {
      fluid_synth_noteon(synth, channel, e.key, e.velocity);
    } else {
      fluid_synth_noteoff(synth, channel, e.key);
    }
  }
  render_until(total);
  std::vector<float> mono(static_cast<std::size_t>(total));
  for (std::size_t i = 0; i < mono.size(); ++i)
    mono[i] = 0.5f * (left[i] + right[i]);
  return mono;
}

}  // namespace avqa::synthetic
