#pragma once

#include <string>
#include <vector>

namespace avqa::synthetic {

/// One narrator line a voiceover can speak, and the voice that speaks it.
struct VoiceLine {
  std::string text;
  std::string voice;  ///< an eSpeak NG voice name, e.g. "en+m3"
};

/// The lines the generator's voiceovers draw from (a narrator introducing a performance).
const std::vector<VoiceLine>& voiceover_lines();

/// Speaks text offline with Debian's `espeak-ng` command (formant synthesis: no recorded voices
/// needed). It runs as a child process per line because the library carries state from one
/// utterance to the next (a line spoken twice in one process differs), while a fresh process
/// speaks a line the same every time.
class SpeechSynth {
 public:
  explicit SpeechSynth(int sample_rate) : sample_rate_(sample_rate) {}

  /// Mono samples in [-1, 1] at sample_rate(), resampled linearly from the synthesiser's rate.
  /// Throws std::runtime_error naming the Debian package when espeak-ng is missing or fails.
  std::vector<float> speak(const VoiceLine& line) const;

  int sample_rate() const { return sample_rate_; }
  /// What `espeak-ng --version` prints, recorded in the manifest beside the soundfont's hash.
  static std::string version();

 private:
  int sample_rate_;
};

/// Mono 16-bit PCM samples and their rate from a RIFF/WAVE file's bytes (the layout espeak-ng
/// writes). Throws std::runtime_error saying what is wrong.
struct PcmAudio {
  int sample_rate = 0;
  std::vector<float> samples;  ///< in [-1, 1)
};
PcmAudio parse_wav(const std::string& bytes, const std::string& source);

}  // namespace avqa::synthetic
