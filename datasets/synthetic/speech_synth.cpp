#include "datasets/synthetic/speech_synth.h"

#include <cstdint>
#include <cstring>
#include <stdexcept>

#include "core/child_process.h"

namespace avqa::synthetic {
namespace {

constexpr const char* kInstallHint =
    "install Debian's espeak-ng (apt-get install espeak-ng), or generate without voiceovers "
    "(--voiceover-rate 0)";

std::uint32_t read_u32(const std::string& b, std::size_t at) {
  std::uint32_t v = 0;
  for (int k = 3; k >= 0; --k)
    v = (v << 8) | static_cast<unsigned char>(b[at + static_cast<std::size_t>(k)]);
  return v;
}

std::uint16_t read_u16(const std::string& b, std::size_t at) {
  return static_cast<std::uint16_t>(static_cast<unsigned char>(b[at]) |
                                    (static_cast<unsigned char>(b[at + 1]) << 8));
}

core::ProcessResult run_espeak(const std::vector<std::string>& argv) {
  try {
    return core::run_process(argv);
  } catch (const std::exception& e) {
    throw std::runtime_error(std::string("espeak-ng could not be started (") + e.what() +
                             "): " + kInstallHint);
  }
}

}  // namespace

const std::vector<VoiceLine>& voiceover_lines() {
  static const std::vector<VoiceLine> lines = {
      {"Welcome to tonight's concert.", "en+m3"},  {"Listen closely to this passage.", "en+f3"},
      {"Here is our next performer.", "en+m1"},    {"This piece was written last spring.", "en+f2"},
      {"Thank you all for coming.", "en+m3"},      {"Let us enjoy the music together.", "en+f3"},
      {"Notice how the melody returns.", "en+m1"}, {"Our players rehearsed for weeks.", "en+f2"},
  };
  return lines;
}

PcmAudio parse_wav(const std::string& b, const std::string& source) {
  auto fail = [&](const std::string& what) {
    return std::runtime_error(source + ": not a mono 16-bit WAV file: " + what);
  };
  if (b.size() < 12 || b.compare(0, 4, "RIFF") != 0 || b.compare(8, 4, "WAVE") != 0)
    throw fail("no RIFF/WAVE header");
  PcmAudio out;
  bool have_format = false;
  std::size_t at = 12;
  while (at + 8 <= b.size()) {
    const std::string id = b.substr(at, 4);
    std::size_t size = read_u32(b, at + 4);
    const std::size_t body = at + 8;
    if (id == "fmt ") {
      if (size < 16 || body + 16 > b.size()) throw fail("short fmt chunk");
      if (read_u16(b, body) != 1) throw fail("not PCM");
      if (read_u16(b, body + 2) != 1) throw fail("not mono");
      if (read_u16(b, body + 14) != 16) throw fail("not 16-bit");
      out.sample_rate = static_cast<int>(read_u32(b, body + 4));
      have_format = true;
    } else if (id == "data") {
      if (!have_format) throw fail("data before fmt");
      // Written to a pipe, the size field cannot be known in advance: the data runs to the end.
      size = std::min(size, b.size() - body);
      out.samples.resize(size / 2);
      for (std::size_t i = 0; i < out.samples.size(); ++i) {
        const auto v = static_cast<std::int16_t>(read_u16(b, body + 2 * i));
        out.samples[i] = static_cast<float>(v) / 32768.f;
      }
      return out;
    }
    at = body + size + (size & 1);
  }
  throw fail("no data chunk");
}

std::string SpeechSynth::version() {
  const core::ProcessResult r = run_espeak({"espeak-ng", "--version"});
  // "eSpeak NG text-to-speech: 1.51  Data at: /usr/lib/...": the version, not the machine's path.
  std::string v = r.standard_output.substr(0, r.standard_output.find_first_of("\r\n"));
  return v.substr(0, v.find("  Data at"));
}

std::vector<float> SpeechSynth::speak(const VoiceLine& line) const {
  const core::ProcessResult r =
      run_espeak({"espeak-ng", "-v", line.voice, "-s", "150", "--stdout", line.text});
  if (r.exit_code != 0) {
    throw std::runtime_error("espeak-ng failed to speak '" + line.text + "' (exit " +
                             std::to_string(r.exit_code) + "): " + r.standard_error);
  }
  const PcmAudio wav = parse_wav(r.standard_output, "espeak-ng --stdout");
  // Linear resampling: enough for speech, and exactly reproducible.
  const double step = static_cast<double>(wav.sample_rate) / sample_rate_;
  const auto n = static_cast<std::size_t>(static_cast<double>(wav.samples.size()) / step);
  std::vector<float> out(n);
  for (std::size_t i = 0; i < n; ++i) {
    const double x = static_cast<double>(i) * step;
    const auto k = static_cast<std::size_t>(x);
    const double frac = x - static_cast<double>(k);
    const float a = wav.samples[k];
    const float b = k + 1 < wav.samples.size() ? wav.samples[k + 1] : a;
    out[i] = static_cast<float>(a + (b - a) * frac);
  }
  return out;
}

}  // namespace avqa::synthetic
