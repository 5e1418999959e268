// The generator end to end: files, schema, determinism, and answers and signals that agree with
// the ground truth, recomputed here independently from the truth files.
#include "datasets/synthetic/generator.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "core/sha256.h"
#include "datasets/annotations.h"
#include "datasets/media/media_reader.h"
#include "datasets/synthetic/frame_renderer.h"
#include "datasets/synthetic/scene.h"
#include "datasets/vocabulary.h"
#include "tests/test_paths.h"

namespace avqa::synthetic {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;
using avqa::testing::TempDir;

GeneratorOptions small(const fs::path& out, int videos, int seconds, std::uint64_t seed) {
  GeneratorOptions o;
  o.out = out;
  o.videos = videos;
  o.seed = seed;
  o.scene.seconds = seconds;
  o.jobs = 2;
  o.progress = false;
  return o;
}

// One dataset shared by the tests of this file, generated on first use into the build tree
// (atomically: a parallel test process either finds it complete or makes its own copy).
const fs::path& shared_dataset() {
  static const fs::path path = [] {
    const fs::path final_path = fs::path(AVQA_TEST_OUTPUT_DIR) / "synthetic-g1-v24-s4-seed11";
    if (!fs::exists(final_path / "manifest.json")) {
      const fs::path temp = final_path.string() + ".tmp" + std::to_string(::getpid());
      fs::remove_all(temp);
      generate_dataset(small(temp, 24, 4, 11));
      std::error_code ec;
      fs::rename(temp, final_path, ec);
      if (ec) fs::remove_all(temp);  // another process finished first
    }
    return final_path;
  }();
  return path;
}

std::string read(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

json read_json(const fs::path& p) {
  return json::parse(read(p));
}

std::vector<json> all_records(const fs::path& dataset) {
  std::vector<json> records;
  for (const char* split : {"train", "val", "test"}) {
    for (const json& r :
         read_json(dataset / "annotations" / (std::string("avqa-") + split + ".json")))
      records.push_back(r);
  }
  return records;
}

std::string media_hash(const fs::path& video) {
  const media::DecodedMedia m = media::decode_media(video);
  core::Sha256 hash;
  for (const auto& frame : m.frames)
    hash.update(frame.data(), frame.size());
  hash.update(m.samples.data(), m.samples.size() * sizeof(float));
  return hash.hex_digest();
}

TEST(Generator, SameArgumentsGiveIdenticalDatasetsWhateverTheThreadCount) {
  TempDir a("gen_a");
  TempDir b("gen_b");
  GeneratorOptions first = small(a / "data", 4, 3, 5);
  first.jobs = 1;
  GeneratorOptions second = small(b / "data", 4, 3, 5);
  second.jobs = 2;
  generate_dataset(first);
  generate_dataset(second);
  std::size_t compared = 0;
  for (const auto& entry : fs::recursive_directory_iterator(a / "data")) {
    if (!entry.is_regular_file()) continue;
    const fs::path rel = fs::relative(entry.path(), a / "data");
    const fs::path other = b / "data" / rel;
    ASSERT_TRUE(fs::exists(other)) << rel;
    if (rel.extension() == ".mp4") {
      EXPECT_EQ(media_hash(entry.path()), media_hash(other)) << rel;  // decoded frames and samples
    } else {
      EXPECT_EQ(read(entry.path()), read(other))
          << rel;  // annotations, truth, manifest: byte for byte
    }
    ++compared;
  }
  EXPECT_EQ(compared, 4u * 2 + 3 + 1);
  // A different seed gives a different dataset.
  TempDir c("gen_c");
  generate_dataset(small(c / "data", 4, 3, 6));
  EXPECT_NE(read(a / "data/truth/syn00000.json"), read(c / "data/truth/syn00000.json"));
}

TEST(Generator, WritesTheLayoutAndTheMusicAvqaSchema) {
  const fs::path& d = shared_dataset();
  std::set<std::string> videos;
  for (const auto& e : fs::directory_iterator(d / "videos"))
    videos.insert(e.path().stem().string());
  EXPECT_EQ(videos.size(), 24u);
  for (const std::string& v : videos)
    EXPECT_TRUE(fs::exists(d / "truth" / (v + ".json"))) << v;

  const data::AnswerVocabulary answers =
      data::AnswerVocabulary::load(avqa::testing::fixture("answers42.json"));
  std::map<std::string, std::string> split_of_video;
  std::set<data::QuestionType> types;
  std::vector<data::AnnotationSet> sets;
  for (const char* split : {"train", "val", "test"}) {
    const fs::path file = d / "annotations" / (std::string("avqa-") + split + ".json");
    for (const json& r : read_json(file)) {
      ASSERT_EQ(r.size(), 7u) << r.dump();
      for (const char* key : {"video_id", "question_id", "type", "question_content", "templ_values",
                              "question_deleted", "anser"}) {
        EXPECT_TRUE(r.contains(key)) << key;
      }
      EXPECT_TRUE(r["type"].is_string());
      EXPECT_TRUE(r["templ_values"].is_string());
      EXPECT_EQ(r["question_deleted"], 0);
    }
    // Loaded unchanged by the annotation layer, with the strict duplicate policy.
    data::AnnotationSet set = data::load_annotations(file);
    for (const auto& r : set.records) {
      ASSERT_TRUE(videos.count(r.video_id)) << r.video_id;
      const auto [it, fresh] = split_of_video.emplace(r.video_id, split);
      EXPECT_EQ(it->second, split) << r.video_id << " is in two splits";
      EXPECT_TRUE(answers.contains(r.answer)) << r.answer;
      types.insert(r.type);
    }
    EXPECT_NO_THROW(data::encode_answers(set, answers));
    sets.push_back(std::move(set));
  }
  EXPECT_EQ(types.size(), data::kNumQuestionTypes) << "every question type is asked";
  const data::WordVocabulary vocab = data::WordVocabulary::build(sets);
  for (const auto& set : sets)
    EXPECT_NO_THROW(data::encode_questions(set, vocab));

  const json manifest = read_json(d / "manifest.json");
  EXPECT_EQ(manifest["seed"], 11);
  EXPECT_EQ(manifest["soundfont"]["sha256"].get<std::string>().size(), 64u);
  int questions = 0;
  for (const char* split : {"train", "val", "test"})
    questions += manifest["splits"][split]["questions"].get<int>();
  EXPECT_EQ(static_cast<std::size_t>(questions), all_records(d).size());
  EXPECT_TRUE(manifest["omitted_templates"].empty()) << "every template is asked";
  EXPECT_NE(manifest["speech"].get<std::string>().find("eSpeak NG"), std::string::npos);
}

// A model trained with the real 93-word vocabulary can read every synthetic question.
TEST(Generator, QuestionsUseTheRealMusicAvqaVocabulary) {
  AVQA_REQUIRE_MUSIC_AVQA(dir);
  std::vector<data::AnnotationSet> real;
  for (const char* file :
       {"json/avqa-val.json", "json/avqa-test.json", "json/avqa-train_fake.json"}) {
    real.push_back(data::load_annotations(dir / file, {data::DuplicatePolicy::KeepAll}));
  }
  const data::WordVocabulary vocab = data::WordVocabulary::build(real);
  ASSERT_EQ(vocab.size(), 93u);
  for (const char* split : {"train", "val", "test"}) {
    const auto set = data::load_annotations(shared_dataset() / "annotations" /
                                            (std::string("avqa-") + split + ".json"));
    EXPECT_NO_THROW(data::encode_questions(set, vocab)) << split;
  }
}

// Independent re-computation, from the truth files alone, of the answers to templates that
// need only counting, visibility, background and onset order.
TEST(Generator, AnswersAgreeWithTheTruthFiles) {
  const fs::path& d = shared_dataset();
  std::size_t checked = 0;
  for (const json& r : all_records(d)) {
    const json truth = read_json(d / "truth" / (r["video_id"].get<std::string>() + ".json"));
    const std::string q = r["question_content"];
    const json values = json::parse(r["templ_values"].get<std::string>());
    const std::string a = r["anser"];
    auto sounds = [](const json& i) { return !i["sounding_intervals"].empty(); };
    auto count = [&](auto pred) {
      int n = 0;
      for (const json& i : truth["instruments"])
        n += pred(i) ? 1 : 0;
      return n;
    };
    const std::vector<std::string> words = {"zero", "one", "two", "three", "four", "five", "six"};
    if (q == "How many musical instruments were heard throughout the video?") {
      EXPECT_EQ(a, words[static_cast<std::size_t>(count(sounds))]);
    } else if (q == "Where is the performance?") {
      EXPECT_EQ(a, truth["background"]);
    } else if (q == "Is there a <Object> in the entire video?") {
      const bool seen =
          count([&](const json& i) { return i["visible"] && i["class"] == values[0]; }) > 0;
      EXPECT_EQ(a, seen ? "yes" : "no");
    } else if (q == "How many instruments in the video did not sound from beginning to end?") {
      EXPECT_EQ(a, words[static_cast<std::size_t>(
                       count([&](const json& i) { return i["visible"] && !sounds(i); }))]);
    } else if (q == "How many instruments are sounding in the video?") {
      EXPECT_EQ(a, words[static_cast<std::size_t>(
                       count([&](const json& i) { return i["visible"] && sounds(i); }))]);
    } else if (q == "Is this sound from the instrument in the video?") {
      EXPECT_EQ(
          a, count([&](const json& i) { return !i["visible"] && sounds(i); }) > 0 ? "no" : "yes");
    } else if (q == "Where is the <FL> sounding instrument?") {
      // The visible instrument whose first sounding second is earliest (or latest).
      int best = values[0] == "first" ? 1000 : -1;
      std::string where;
      for (const json& i : truth["instruments"]) {
        if (!i["visible"] || !sounds(i)) continue;
        const int onset = i["sounding_intervals"][0][0];
        if (values[0] == "first" ? onset < best : onset > best) {
          best = onset;
          where = i["position"];
        }
      }
      EXPECT_EQ(a, where);
    } else if (q == "Is the <Object> louder than the <Object>?") {
      double level[2] = {0, 0};
      for (int k = 0; k < 2; ++k) {
        for (const json& i : truth["instruments"]) {
          if (i["class"] == values[static_cast<std::size_t>(k)]) level[k] = i["loudness_db"];
        }
      }
      EXPECT_GE(std::abs(level[0] - level[1]), 2.99);
      EXPECT_EQ(a, level[0] > level[1] ? "yes" : "no");
    } else {
      continue;
    }
    ++checked;
  }
  EXPECT_GE(checked, 20u);
}

// Solo clips: the audio is loud exactly in the seconds the truth says the instrument sounds,
// and the instrument's pixels move then and stand still otherwise.
TEST(Generator, SignalsFollowTheTruth) {
  TempDir dir("gen_solo");
  GeneratorOptions o = small(dir / "data", 6, 6, 21);
  o.scene.min_instruments = o.scene.max_instruments = 1;
  o.scene.ensemble_rate = 0;
  o.scene.offscreen_rate = 0;
  o.scene.silent_rate = 0;
  o.scene.voiceover_rate = 0;  // silent seconds must be silent
  generate_dataset(o);
  int sounding_seconds = 0;
  int silent_seconds = 0;
  for (int v = 0; v < 6; ++v) {
    char id[16];
    std::snprintf(id, sizeof id, "syn%05d", v);
    const json truth = read_json(dir / "data/truth" / (std::string(id) + ".json"));
    const media::DecodedMedia m =
        media::decode_media(dir / "data/videos" / (std::string(id) + ".mp4"));
    ASSERT_EQ(m.frames.size(), 6u * 8u);
    ASSERT_EQ(m.width, 224);
    const json& inst = truth["instruments"][0];
    const auto box = inst["box"].get<std::vector<int>>();
    for (int s = 0; s < 6; ++s) {
      const bool sounding = inst["sounding_per_second"][static_cast<std::size_t>(s)] == 1;
      // Audio: RMS of the decoded second.
      double energy = 0;
      for (int i = s * 16000; i < (s + 1) * 16000 && i < static_cast<int>(m.samples.size()); ++i) {
        energy += m.samples[static_cast<std::size_t>(i)] * m.samples[static_cast<std::size_t>(i)];
      }
      const double db = 10 * std::log10(energy / 16000 + 1e-12);
      // Video: mean absolute change between consecutive frames inside the (padded) box.
      double change = 0;
      int n = 0;
      for (int f = s * 8 + 1; f < (s + 1) * 8; ++f) {
        for (int y = std::max(0, box[1] - 6); y < std::min(224, box[3] + 6); ++y) {
          for (int x = std::max(0, box[0] - 6); x < std::min(224, box[2] + 6); ++x) {
            for (int c = 0; c < 3; ++c) {
              const std::size_t k =
                  (static_cast<std::size_t>(y) * 224 + static_cast<std::size_t>(x)) * 3 + c;
              change += std::abs(int(m.frames[static_cast<std::size_t>(f)][k]) -
                                 int(m.frames[static_cast<std::size_t>(f - 1)][k]));
              ++n;
            }
          }
        }
      }
      change /= n;
      if (sounding) {
        ++sounding_seconds;
        EXPECT_GT(db, -50) << id << " second " << s << " should sound";
        EXPECT_GT(change, 1.0) << id << " second " << s << ": a playing instrument moves";
      } else {
        ++silent_seconds;
        EXPECT_LT(db, -55) << id << " second " << s << " should be near silence";
        EXPECT_LT(change, 0.5) << id << " second " << s << ": a silent instrument stands still";
      }
    }
  }
  EXPECT_GT(sounding_seconds, 0);
  EXPECT_GT(silent_seconds, 0) << "the seed should give some silent seconds to compare";
}

// Counted from the annotation files themselves, not from what the generator says of them.
TEST(Generator, YesNoAnswersStayBalanced) {
  TempDir dir("gen_balance");
  GeneratorOptions o = small(dir / "data", 80, 4, 3);
  generate_dataset(o);
  std::map<std::string, std::map<std::string, int>> by_template;  // template -> answer -> count
  std::map<std::string, std::map<std::string, int>> train_by_template;
  std::vector<data::AnnotationRecord> test;
  for (const char* split : {"train", "val", "test"}) {
    const auto set =
        data::load_annotations(dir / "data/annotations" / (std::string("avqa-") + split + ".json"));
    for (const auto& r : set.records) {
      ++by_template[r.question_content][r.answer];
      if (std::string(split) == "train") ++train_by_template[r.question_content][r.answer];
      if (std::string(split) == "test") test.push_back(r);
    }
  }
  int checked = 0;
  for (const auto& [question, answers] : by_template) {
    int total = 0, most = 0;
    for (const auto& [answer, n] : answers) {
      total += n;
      most = std::max(most, n);
    }
    if (total < 10 || !answers.count("yes")) continue;
    ++checked;
    EXPECT_LE(static_cast<double>(most) / total, 0.6) << question;
  }
  EXPECT_GT(checked, 0) << "no yes/no template with 10 questions to check";
  // A blind guess per template (its most frequent training answer) stays far from perfect.
  ASSERT_FALSE(test.empty());
  int right = 0;
  for (const auto& r : test) {
    const auto& answers = train_by_template[r.question_content];
    std::string guess;
    int most = -1;
    for (const auto& [answer, n] : answers) {
      if (n > most) std::tie(guess, most) = std::pair{answer, n};
    }
    right += guess == r.answer;
  }
  EXPECT_LT(100.0 * right / static_cast<double>(test.size()), 50.0);
}

// Classification mode with both kinds of ambiguity: each modality must decide clips the other
// cannot, so the shares are disjoint and each clip's ambiguity is what it says.
TEST(Generator, ClassificationAmbiguitySharesAreDisjointAndAsAsked) {
  const InstrumentTable table = InstrumentTable::builtin();
  SceneParams params;
  params.seconds = 2;
  params.imbalance = 0.4;
  params.ambiguous_audio = 0.3;
  params.imbalance_snr_db = -12;
  Rng rng(11);
  const int draws = 2000;
  int visual = 0, audio = 0;
  for (int i = 0; i < draws; ++i) {
    const ClassificationScene c = sample_classification_scene(table, params, 6, rng);
    ASSERT_FALSE(c.visual_ambiguous && c.audio_ambiguous) << "draw " << i;
    visual += c.visual_ambiguous;
    audio += c.audio_ambiguous;
    std::size_t visible = 0;
    for (const auto& inst : c.scene.instruments)
      visible += inst.visible;
    if (c.audio_ambiguous) {
      ASSERT_TRUE(c.scene.snr_db.has_value());
      EXPECT_EQ(*c.scene.snr_db, -12);
      EXPECT_EQ(visible, 1u) << "an acoustically ambiguous clip shows its one instrument plainly";
    } else {
      EXPECT_FALSE(c.scene.snr_db.has_value());
    }
    if (c.visual_ambiguous) {
      EXPECT_GE(visible, 2u);
    }
  }
  // Binomial std of a share over 2000 draws is about 0.011: 0.04 is more than 3 std.
  EXPECT_NEAR(visual / double(draws), 0.4, 0.04);
  EXPECT_NEAR(audio / double(draws), 0.3, 0.04);
}

// Ensembles: five to nine instruments, every one inside the frame with its centre clearly inside
// its column, so "on the left" stays unambiguous however many play.
TEST(Generator, EnsemblesFillTheStageWithoutAmbiguousColumns) {
  const InstrumentTable table = InstrumentTable::builtin();
  SceneParams params;
  params.ensemble_rate = 1;
  std::map<std::size_t, int> sizes;
  for (std::uint64_t seed = 0; seed < 300; ++seed) {
    Rng rng(derive_seed(17, seed));
    const Scene scene = sample_scene(table, params, rng);
    std::size_t visible = 0;
    for (const PlannedInstrument& inst : scene.instruments) {
      if (!inst.visible) continue;
      ++visible;
      EXPECT_GE(inst.box.x0, 0);
      EXPECT_LE(inst.box.x1, params.width);
      EXPECT_GE(inst.box.y0, 0);
      EXPECT_LE(inst.box.y1, params.height);
      const double third = params.width / 3.0;
      const double cx = inst.box.center_x();
      EXPECT_EQ(static_cast<int>(cx / third), static_cast<int>(inst.column));
      const double edge = std::min(cx - third * static_cast<int>(inst.column),
                                   third * (static_cast<int>(inst.column) + 1) - cx);
      EXPECT_GE(edge, params.width / 12.0 - 1) << "seed " << seed;
    }
    ++sizes[visible];
  }
  EXPECT_EQ(sizes.begin()->first, 5u);
  EXPECT_EQ(sizes.rbegin()->first, 9u);
}

// Every clip has something to hear, even when every visible instrument draws silence.
TEST(Generator, NoClipIsWhollySilent) {
  const InstrumentTable table = InstrumentTable::builtin();
  SceneParams params;
  params.silent_rate = 1;
  params.offscreen_rate = 0;
  for (std::uint64_t seed = 0; seed < 300; ++seed) {
    Rng rng(derive_seed(5, seed));
    const Scene scene = sample_scene(table, params, rng);
    EXPECT_TRUE(std::any_of(scene.instruments.begin(), scene.instruments.end(),
                            [](const PlannedInstrument& i) { return !i.notes.empty(); }))
        << "seed " << seed;
  }
}

// --shared-backgrounds 1: every stage clip has the same colours, every outdoor clip too, so the
// background cannot tell clips apart; by default they are drawn per clip.
TEST(Generator, SharedBackgroundsRepeatAcrossClips) {
  const InstrumentTable table = InstrumentTable::builtin();
  for (const int shared : {0, 1}) {
    SceneParams params;
    params.shared_backgrounds = shared;
    std::set<std::array<unsigned char, 6>> looks[2];
    for (std::uint64_t seed = 0; seed < 60; ++seed) {
      Rng rng(derive_seed(9, seed));
      const Scene scene = sample_scene(table, params, rng);
      std::array<unsigned char, 6> look{};
      std::copy(scene.backdrop.begin(), scene.backdrop.end(), look.begin());
      std::copy(scene.floor.begin(), scene.floor.end(), look.begin() + 3);
      looks[scene.outdoor ? 1 : 0].insert(look);
    }
    for (const auto& kind : looks) {
      if (shared == 1) {
        EXPECT_EQ(kind.size(), 1u);
      } else {
        EXPECT_GT(kind.size(), 10u);
      }
    }
  }
}

// --playing-tilt: a sounding instrument is drawn tilted, one side, never upright; a silent one,
// and every instrument without the option, exactly as before.
TEST(Generator, PlayingTiltShowsWhoPlaysInOneFrame) {
  const InstrumentTable table = InstrumentTable::builtin();
  SceneParams params;
  params.seconds = 2;
  params.width = params.height = 112;
  params.min_instruments = params.max_instruments = 1;
  params.ensemble_rate = 0;
  Rng rng(3);
  const Scene scene = sample_scene(table, params, rng);
  SceneParams tilted = params;
  tilted.playing_tilt = 12;
  const FrameRenderer plain(table, scene, params);
  const FrameRenderer leaning(table, scene, tilted);
  std::vector<std::uint8_t> a, b;
  plain.render(0.5, {false}, a);
  leaning.render(0.5, {false}, b);
  EXPECT_EQ(a, b) << "a silent instrument stands upright either way";
  plain.render(0.5, {true}, a);
  leaning.render(0.5, {true}, b);
  EXPECT_NE(a, b) << "a sounding one leans";
  double side = 0;
  for (double t = 0; t < 2; t += 0.05) {
    EXPECT_EQ(plain.tilt_at(0, t, true), 0.0);
    EXPECT_EQ(leaning.tilt_at(0, t, false), 0.0);
    const double tilt = leaning.tilt_at(0, t, true);
    EXPECT_GE(std::abs(tilt), 0.6 * 12 - 1e-9);
    EXPECT_LE(std::abs(tilt), 12 + 1e-9);
    if (side == 0) side = tilt;
    EXPECT_GT(tilt * side, 0) << "one side, never upright";
  }
}

// The pixels of a fixed scene, pinned: a change to the renderer that moves one sprite edge by a
// pixel changes every dataset generated with it, and with them every figure measured on them (the
// first --playing-tilt renderer did, through rounding, and moved the demo's pointing by 8 points).
// A deliberate change to the look updates the digest here and the README's figures.
TEST(Generator, RendererPixelsArePinned) {
  const InstrumentTable table = InstrumentTable::builtin();
  SceneParams params;
  params.seconds = 2;
  params.width = params.height = 112;
  params.ensemble_rate = 0;  // the scene this digest was first taken of, before ensembles
  params.voiceover_rate = 0;
  Rng rng(3);
  const Scene scene = sample_scene(table, params, rng);
  const FrameRenderer renderer(table, scene, params);
  std::vector<std::uint8_t> rgb;
  std::vector<bool> sounding(scene.instruments.size(), true);
  sounding[0] = false;
  renderer.render(0.5, sounding, rgb);
  EXPECT_EQ(
      core::sha256_hex(std::string_view(reinterpret_cast<const char*>(rgb.data()), rgb.size())),
      "73ca8c5be47e8946b31563e347834a02e14a5eb0720b7ec0366fec225ac0444f");
}

TEST(Generator, RefusesBadArgumentsAndNonEmptyFolders) {
  TempDir dir("gen_args");
  auto expect_invalid = [&](auto change, const std::string& option) {
    GeneratorOptions o = small(dir / "bad", 2, 2, 1);
    change(o);
    try {
      generate_dataset(o);
      FAIL() << "accepted bad " << option;
    } catch (const std::invalid_argument& e) {
      EXPECT_NE(std::string(e.what()).find(option), std::string::npos) << e.what();
    }
  };
  expect_invalid([](GeneratorOptions& o) { o.split = {0.5, 0.5, 0.5}; }, "--split");
  expect_invalid([](GeneratorOptions& o) { o.videos = 0; }, "--videos");
  expect_invalid(
      [](GeneratorOptions& o) { o.scene.min_instruments = 3, o.scene.max_instruments = 2; },
      "--instruments");
  expect_invalid([](GeneratorOptions& o) { o.scene.clutter = 2; }, "--clutter");
  expect_invalid([](GeneratorOptions& o) { o.scene.playing_tilt = 60; }, "--playing-tilt");
  expect_invalid(
      [](GeneratorOptions& o) {
        o.classes = 3, o.scene.imbalance = 0.8, o.scene.ambiguous_audio = 0.3;
      },
      "--ambiguous-audio");
  expect_invalid([](GeneratorOptions& o) { o.scene.ambiguous_audio = 0.3; }, "--ambiguous-audio");
  expect_invalid([](GeneratorOptions& o) { o.scene.width = o.scene.height = 101; }, "--size");
  EXPECT_FALSE(fs::exists(dir / "bad"));  // nothing written for rejected options

  std::ofstream(dir / "notes.txt") << "keep me";
  GeneratorOptions o = small(dir.path(), 1, 2, 1);
  expect_invalid(
      [](GeneratorOptions& x) {
        x.out = fs::temp_directory_path() / ("avqa_gen_args_" + std::to_string(::getpid()));
      },
      "not empty");
  o.overwrite = true;
  generate_dataset(o);
  EXPECT_EQ(read(dir / "notes.txt"),
            "keep me");  // --overwrite replaces only the generator's outputs
  EXPECT_TRUE(fs::exists(dir / "manifest.json"));

  GeneratorOptions no_font = small(dir / "nofont", 1, 2, 1);
  no_font.soundfont = "/nonexistent/font.sf2";
  try {
    generate_dataset(no_font);
    FAIL() << "expected a missing soundfont";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("fluid-soundfont-gm"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace avqa::synthetic
