#include "datasets/synthetic/instrument_table.h"

#include <cmath>

#include <gtest/gtest.h>

#include "core/input_error.h"
#include "datasets/synthetic/instrument_synth.h"

namespace avqa::synthetic {
namespace {

TEST(InstrumentTable, BuiltinHasThe22MusicAvqaClasses) {
  const InstrumentTable table = InstrumentTable::builtin();
  EXPECT_EQ(table.size(), 22u);
  for (const char* name :
       {"accordion", "acoustic_guitar", "bagpipe", "banjo",         "bassoon", "cello",
        "clarinet",  "congas",          "drum",    "electric_bass", "erhu",    "flute",
        "guzheng",   "piano",           "pipa",    "saxophone",     "suona",   "trumpet",
        "tuba",      "ukulele",         "violin",  "xylophone"}) {
    ASSERT_TRUE(table.find(name).has_value()) << name;
    EXPECT_FALSE(table.at(*table.find(name)).sprite.empty()) << name;
  }
  EXPECT_EQ(table.at(*table.find("erhu")).stand_in, "Fiddle");
  EXPECT_TRUE(table.at(*table.find("drum")).percussion());
}

TEST(InstrumentTable, BadTablesNameTheField) {
  auto expect_field = [](const std::string& text, const std::string& field) {
    try {
      InstrumentTable::parse(text, "table.json");
      FAIL() << "accepted: " << text;
    } catch (const core::InputError& e) {
      EXPECT_EQ(e.where().field, field) << e.what();
    }
  };
  const std::string sprite =
      R"("sprite": [{"shape": "circle", "center": [0.5, 0.5], "radius": 0.3, "color": "#FF0000"}])";
  expect_field(
      R"({"instruments": [{"class": "kazoo", "bank": 0, "program": 1, "pitch": [60, 72], )" +
          sprite + "}]}",
      "class");
  expect_field(
      R"({"instruments": [{"class": "violin", "bank": 0, "program": 200, "pitch": [60, 72], )" +
          sprite + "}]}",
      "program");
  expect_field(R"({"instruments": [{"class": "drum", "bank": 128, "program": 0, )" + sprite + "}]}",
               "keys");
  expect_field(R"({"instruments": [{"class": "violin", "bank": 0, "program": 40, "pitch": [60, 72],
      "sprite": [{"shape": "star", "color": "#FF0000"}]}]})",
               "sprite[0].shape");
  expect_field(R"({"instruments": [{"class": "violin", "bank": 0, "program": 40, "pitch": [60, 72],
      "sprite": [{"shape": "rect", "from": [0, 0], "to": [1, 1], "color": "red"}]}]})",
               "sprite[0].color");
  expect_field(R"({"tools": []})", "instruments");
}

// Every class renders audibly and with its own spectrum (the soundfont comes from the Debian
// package fluid-soundfont-gm, which tools/install-deps.sh installs).
TEST(InstrumentSynth, EveryClassRendersAudibleDistinctSound) {
  const InstrumentTable table = InstrumentTable::builtin();
  InstrumentSynth synth(kDefaultSoundfont, 16000);
  std::vector<double> centroids;
  for (const InstrumentSpec& spec : table.instruments()) {
    EXPECT_TRUE(synth.has_preset(spec)) << spec.name;
    const int key = spec.percussion() ? spec.keys[0] : (spec.pitch_low + spec.pitch_high) / 2;
    const auto samples = synth.render(spec, {{0.1, 0.8, key, 110}}, 1.0);
    ASSERT_EQ(samples.size(), 16000u);
    double energy = 0;
    double crossings = 0;
    for (std::size_t i = 1; i < samples.size(); ++i) {
      energy += samples[i] * samples[i];
      crossings += (samples[i - 1] < 0) != (samples[i] < 0);
    }
    EXPECT_GT(10 * std::log10(energy / samples.size() + 1e-12), -50) << spec.name << " is silent";
    centroids.push_back(crossings);
  }
  // Not all the same: a broken program selection would give one timbre for every class.
  std::sort(centroids.begin(), centroids.end());
  EXPECT_GT(centroids.back(), 2 * centroids.front());
}

TEST(InstrumentSynth, IdenticalRendersAndSilenceWithoutNotes) {
  const InstrumentTable table = InstrumentTable::builtin();
  InstrumentSynth synth(kDefaultSoundfont, 16000);
  const InstrumentSpec& violin = table.at(*table.find("violin"));
  const std::vector<NoteEvent> notes = {{0.0, 0.4, 67, 100}, {0.5, 0.3, 71, 90}};
  const auto a = synth.render(violin, notes, 1.0);
  const auto b = synth.render(violin, notes, 1.0);
  EXPECT_EQ(a, b);
  const auto silent = synth.render(violin, {}, 0.5);
  EXPECT_TRUE(std::all_of(silent.begin(), silent.end(), [](float x) { return x == 0.f; }));
}

TEST(InstrumentSynth, MissingSoundfontNamesTheDebianPackage) {
  try {
    InstrumentSynth synth("/nonexistent/font.sf2", 16000);
    FAIL() << "expected an error";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("fluid-soundfont-gm"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace avqa::synthetic
