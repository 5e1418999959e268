#include "datasets/synthetic/truth.h"

#include <algorithm>
#include <cmath>
#include <filesystem>

#include <gtest/gtest.h>

#include "core/atomic_file.h"
#include "core/input_error.h"

namespace avqa::synthetic {
namespace {

constexpr int kRate = 16000;

// Tone bursts: `bursts` notes of `length` seconds starting at the given times, at `amplitude`.
std::vector<float> bursts(int seconds,
                          const std::vector<double>& starts,
                          double length,
                          double amplitude) {
  std::vector<float> out(static_cast<std::size_t>(seconds * kRate), 0.f);
  for (const double start : starts) {
    for (int i = 0; i < static_cast<int>(length * kRate); ++i) {
      const auto n = static_cast<std::size_t>(start * kRate) + static_cast<std::size_t>(i);
      if (n < out.size())
        out[n] = static_cast<float>(amplitude * std::sin(2 * M_PI * 330 * n / kRate));
    }
  }
  return out;
}

TEST(AnalyseStem, SoundingSecondsLoudnessAndOnsets) {
  // Four 0.5 s notes per second over seconds 2..4, silence elsewhere.
  std::vector<double> starts;
  for (double t = 2.0; t < 5.0; t += 0.25)
    starts.push_back(t);
  const auto samples = bursts(8, starts, 0.15, 0.1);
  const StemAnalysis a = analyse_stem(samples, kRate, 8);
  EXPECT_EQ(a.sounding_per_second,
            (std::vector<bool>{false, false, true, true, true, false, false, false}));
  EXPECT_EQ(a.onsets.size(), starts.size());
  EXPECT_NEAR(a.onsets.front(), 2.0, 0.021);
  // Sine of amplitude 0.1: RMS 0.0707 = -23 dBFS.
  EXPECT_NEAR(a.loudness_db, -23.0, 0.5);
  // 12 notes of 0.15 s from 2.0 s to 4.9 s: the 0.1 s gaps between them are played too.
  EXPECT_NEAR(a.sounding_seconds, 2.9, 0.041);
  EXPECT_NEAR(*a.first_sound, 2.0, 0.021);
  EXPECT_NEAR(*a.last_sound, 4.9, 0.041);
  EXPECT_NEAR(a.onset_rate, 12 / 2.9, 0.1);
  EXPECT_NEAR(a.rms_per_second[3], 0.0707 * std::sqrt(0.6), 0.005);
  EXPECT_EQ(a.rms_per_second[0], 0.f);
}

TEST(AnalyseStem, LongNotesHaveFewOnsetsAndSilenceHasNone) {
  const StemAnalysis smooth = analyse_stem(bursts(4, {0.0, 2.0}, 1.9, 0.2), kRate, 4);
  EXPECT_EQ(smooth.onsets.size(), 2u);
  EXPECT_EQ(std::count(smooth.sounding_per_second.begin(), smooth.sounding_per_second.end(), true),
            4);
  const StemAnalysis silent = analyse_stem(std::vector<float>(4 * kRate, 0.f), kRate, 4);
  EXPECT_TRUE(silent.onsets.empty());
  EXPECT_EQ(silent.sounding_seconds, 0.0);
  EXPECT_EQ(silent.loudness_db, -120);
}

// A legato line: the level never dips, the pitch changes every half second. Each new note is
// an onset a listener hears, though the overall level gives no sign of it.
TEST(AnalyseStem, LegatoNotesAreOnsets) {
  const double pitches[] = {262, 294, 330, 392, 440, 392, 330, 294};
  std::vector<float> samples(5 * kRate, 0.f);
  double phase = 0;
  for (std::size_t n = static_cast<std::size_t>(0.5 * kRate); n < 4.5 * kRate; ++n) {
    const auto note = static_cast<std::size_t>((static_cast<double>(n) / kRate - 0.5) / 0.5);
    phase += 2 * M_PI * pitches[note] / kRate;  // continuous phase: no click between notes
    samples[n] = static_cast<float>(0.1 * std::sin(phase));
  }
  const StemAnalysis a = analyse_stem(samples, kRate, 5);
  ASSERT_EQ(a.onsets.size(), 8u);
  for (std::size_t k = 0; k < 8; ++k)
    EXPECT_NEAR(a.onsets[k], 0.5 + 0.5 * static_cast<double>(k), 0.07) << k;
  EXPECT_NEAR(a.onset_rate, 2.0, 0.05);
}

// Struck notes that die away fast: heard for a tenth of a second each, yet the part plays on
// through every second a listener hears it in, and rests of two seconds stay rests.
TEST(AnalyseStem, ShortDecayingNotesKeepThePartSounding) {
  std::vector<float> samples(8 * kRate, 0.f);
  std::vector<double> starts;
  for (int k = 0; k < 5; ++k) {
    starts.push_back(1.0 + 0.4 * k);
    starts.push_back(5.0 + 0.4 * k);
  }
  std::sort(starts.begin(), starts.end());
  for (const double start : starts) {
    for (int i = 0; i < kRate / 2; ++i) {
      const auto n = static_cast<std::size_t>(start * kRate) + static_cast<std::size_t>(i);
      const double t = static_cast<double>(i) / kRate;
      samples[n] = static_cast<float>(0.05 * std::exp(-t / 0.02) * std::sin(2 * M_PI * 880 * t));
    }
  }
  const StemAnalysis a = analyse_stem(samples, kRate, 8);
  EXPECT_EQ(a.sounding_per_second,
            (std::vector<bool>{false, true, true, false, false, true, true, false}));
  EXPECT_EQ(a.onsets.size(), starts.size());
  // 1.0-2.64 s and 5.0-6.64 s: the last notes are heard for two frames.
  EXPECT_NEAR(a.sounding_seconds, 2 * 1.64, 0.041);
}

// Loudness is the level of the mean power: a loud second and a quiet one read as the loud one
// less 3 dB, not as the average of the two levels in dB.
TEST(AnalyseStem, LoudnessIsTheMeanPower) {
  std::vector<float> samples = bursts(2, {0.0}, 1.0, 0.1);
  const std::vector<float> quiet = bursts(2, {1.0}, 1.0, 0.01);
  for (std::size_t i = 0; i < samples.size(); ++i)
    samples[i] += quiet[i];
  const StemAnalysis a = analyse_stem(samples, kRate, 2);
  EXPECT_NEAR(a.loudness_db, 10 * std::log10((0.005 + 0.00005) / 2), 0.2);  // -26 dB, not -33
}

TEST(AnalyseStem, QuietSoundBelowThresholdIsSilent) {
  const StemAnalysis a = analyse_stem(bursts(2, {0.0}, 2.0, 0.003), kRate, 2);  // -53 dBFS
  EXPECT_EQ(a.sounding_seconds, 0.0);
}

TEST(SceneTruth, JsonCarriesTheMeasuredFacts) {
  SceneTruth truth;
  truth.video_id = "syn00042";
  truth.seconds = 2;
  truth.background = "outdoor";
  InstrumentTruth violin;
  violin.name = "violin";
  violin.column = Column::Left;
  violin.box = {10, 20, 60, 70};
  violin.sounding_per_second = {true, false};
  violin.sounding_intervals = {{0, 1}};
  violin.rms_per_second = {0.1f, 0.f};
  truth.instruments.push_back(violin);
  InstrumentTruth offscreen;
  offscreen.name = "piano";
  offscreen.visible = false;
  offscreen.sounding_per_second = {true, true};
  truth.instruments.push_back(offscreen);
  EXPECT_TRUE(truth.offscreen_sounds());
  EXPECT_EQ(truth.visible(), std::vector<std::size_t>{0});
  const std::string json = to_json(truth);
  for (const char* part :
       {"\"video_id\": \"syn00042\"", "\"background\": \"outdoor\"", "\"offscreen_sound\": true",
        "\"position\": \"left\"", "\"class\": \"piano\""}) {
    EXPECT_NE(json.find(part), std::string::npos) << part << "\n" << json;
  }

  // What the studio reads back: who is where and who sounds when.
  const auto file = std::filesystem::temp_directory_path() / "avqa-truth-test.json";
  truth.instruments[0].boxes_per_second = {{10, 20, 60, 70}, {12, 20, 62, 70}};
  truth.instruments[0].first_sound = 0.02;
  truth.instruments[0].loudness_db = -21.5;
  truth.voiceover = VoiceoverTruth{"Welcome to tonight's concert.", 0.5, std::nullopt, -30};
  core::write_file_atomically(file, to_json(truth));
  const SceneTruth back = load_truth(file);
  EXPECT_EQ(back.video_id, "syn00042");
  ASSERT_EQ(back.instruments.size(), 2u);
  EXPECT_EQ(back.instruments[0].name, "violin");
  EXPECT_EQ(back.instruments[0].boxes_per_second.size(), 2u);
  EXPECT_EQ(back.instruments[0].boxes_per_second[1].x0, 12);
  EXPECT_EQ(back.instruments[0].sounding_per_second, (std::vector<bool>{true, false}));
  EXPECT_FALSE(back.instruments[1].visible);
  EXPECT_EQ(back.instruments[1].sounding_per_second, (std::vector<bool>{true, true}));
  // The measurements come back too; a time never heard stays absent.
  EXPECT_EQ(back.instruments[0].first_sound, 0.02);
  EXPECT_FALSE(back.instruments[1].first_sound.has_value());
  EXPECT_EQ(back.instruments[0].loudness_db, -21.5);
  EXPECT_EQ(back.instruments[0].rms_per_second, (std::vector<float>{0.1f, 0.f}));
  ASSERT_TRUE(back.voiceover.has_value());
  EXPECT_EQ(back.voiceover->text, "Welcome to tonight's concert.");
  EXPECT_EQ(back.voiceover->first_sound, 0.5);
  EXPECT_FALSE(back.voiceover->last_sound.has_value());
  core::write_file_atomically(file, R"({"video_id": "x", "seconds": "ten"})");
  try {
    load_truth(file);
    FAIL() << "read a truth file with text for seconds";
  } catch (const core::InputError& e) {
    EXPECT_NE(std::string(e.what()).find("seconds"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("avqa-truth-test.json"), std::string::npos) << e.what();
  }
  std::filesystem::remove(file);
}

TEST(SceneTruth, VideoIdsAreTheTruthFilesSorted) {
  const auto data = std::filesystem::temp_directory_path() / "avqa-truth-ids-test";
  std::filesystem::remove_all(data);
  EXPECT_THROW(truth_video_ids(data), core::InputError);  // no truth/ folder
  std::filesystem::create_directories(data / "truth");
  for (const char* name : {"syn00002.json", "syn00001.json", "notes.txt"})
    core::write_file_atomically(data / "truth" / name, "{}");
  EXPECT_EQ(truth_video_ids(data), (std::vector<std::string>{"syn00001", "syn00002"}));
  std::filesystem::remove_all(data);
}

}  // namespace
}  // namespace avqa::synthetic
