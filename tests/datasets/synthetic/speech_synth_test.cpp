#include "datasets/synthetic/speech_synth.h"

#include <cmath>
#include <cstdint>
#include <stdexcept>
#include <string>

#include <gtest/gtest.h>

#include "core/child_process.h"

namespace avqa::synthetic {
namespace {

std::string u32(std::uint32_t v) {
  std::string out(4, '\0');
  for (int k = 0; k < 4; ++k)
    out[static_cast<std::size_t>(k)] = static_cast<char>((v >> (8 * k)) & 0xff);
  return out;
}
std::string u16(std::uint16_t v) {
  return std::string{static_cast<char>(v & 0xff), static_cast<char>(v >> 8)};
}

// A WAV as espeak-ng writes to a pipe: a LIST chunk of odd size before the data, and a data size
// that cannot be known in advance (0x7fffffff).
std::string wav(std::uint16_t channels, std::uint16_t bits, const std::vector<std::int16_t>& pcm) {
  std::string fmt = u16(1) + u16(channels) + u32(22050) + u32(44100) + u16(2) + u16(bits);
  std::string data;
  for (const std::int16_t s : pcm)
    data += u16(static_cast<std::uint16_t>(s));
  return "RIFF" + u32(0x7fffffff) + "WAVE" + "fmt " + u32(16) + fmt + "LIST" + u32(3) + "abc" +
         std::string(1, '\0') + "data" + u32(0x7fffffff) + data;
}

TEST(ParseWav, ReadsMonoSixteenBitWhateverChunksComeFirst) {
  const PcmAudio a = parse_wav(wav(1, 16, {0, 16384, -32768, 32767}), "test.wav");
  EXPECT_EQ(a.sample_rate, 22050);
  ASSERT_EQ(a.samples.size(), 4u);
  EXPECT_FLOAT_EQ(a.samples[1], 0.5f);
  EXPECT_FLOAT_EQ(a.samples[2], -1.f);
}

TEST(ParseWav, NamesWhatIsWrong) {
  auto message = [](const std::string& bytes) {
    try {
      parse_wav(bytes, "x.wav");
    } catch (const std::runtime_error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_NE(message("not a wav file").find("no RIFF/WAVE header"), std::string::npos);
  EXPECT_NE(message(wav(2, 16, {0, 0})).find("not mono"), std::string::npos);
  EXPECT_NE(message(wav(1, 8, {0})).find("not 16-bit"), std::string::npos);
  EXPECT_EQ(message("RIFF").find("x.wav"), 0u) << "the error names the source";
  EXPECT_EQ(message(wav(1, 16, {0})), "no error");
}

bool have_espeak() {
  try {
    return core::run_process({"espeak-ng", "--version"}).exit_code == 0;
  } catch (const std::exception&) {
    return false;
  }
}

// The same line twice gives the same samples (the library alone would not), at the rate asked
// for, about two seconds of audible speech.
TEST(SpeechSynth, SpeaksALineTheSameEveryTime) {
  if (!have_espeak()) GTEST_SKIP() << "Debian's espeak-ng is not installed";
  const SpeechSynth speech(16000);
  const VoiceLine& line = voiceover_lines().front();
  const std::vector<float> a = speech.speak(line);
  EXPECT_EQ(a, speech.speak(line));
  EXPECT_GT(a.size(), 16000u);
  EXPECT_LT(a.size(), 4u * 16000u);
  double energy = 0;
  for (const float x : a)
    energy += static_cast<double>(x) * x;
  EXPECT_GT(10 * std::log10(energy / static_cast<double>(a.size())), -30.0);
  EXPECT_NE(SpeechSynth::version().find("eSpeak NG"), std::string::npos);
}

}  // namespace
}  // namespace avqa::synthetic
