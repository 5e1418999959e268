// Every question the generator would ask of a few hundred clips, read back from its wording and
// answered again from the clip's truth file as a person would read the question: a second,
// independent derivation of each answer (it shares no code with question_templates.cpp), and a
// check that only well-posed questions are asked.
#include <algorithm>
#include <cmath>
#include <iostream>
#include <map>
#include <optional>
#include <regex>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "datasets/question_text.h"
#include "datasets/synthetic/generator.h"
#include "datasets/synthetic/instrument_synth.h"
#include "datasets/synthetic/instrument_table.h"
#include "datasets/synthetic/question_templates.h"

namespace avqa::synthetic {
namespace {

using json = nlohmann::json;

const char* const kCounts[] = {"zero", "one",   "two",   "three", "four", "five",
                               "six",  "seven", "eight", "nine",  "ten"};
std::string count_word(std::size_t n) {
  return n <= 10 ? kCounts[n] : "more than ten";
}

// The clip as its truth file tells it.
struct Player {
  std::string name;
  bool visible = false;
  std::string column;
  double x = 0;  // centre of the box
  std::vector<int> seconds;
  std::optional<double> entry;
  double played = 0;
  double loudness = -120;
  double rate = 0;
  bool sounds() const { return std::count(seconds.begin(), seconds.end(), 1) > 0; }
};

struct Clip {
  std::vector<Player> players;
  std::string background;
  bool voiceover = false;
  int width = 224;
};

Clip read_clip(const std::string& truth_json) {
  const json doc = json::parse(truth_json);
  Clip c;
  c.background = doc.at("background");
  c.voiceover = !doc.at("voiceover").is_null();
  c.width = doc.at("width");
  for (const json& i : doc.at("instruments")) {
    Player p;
    p.name = i.at("class");
    p.visible = i.at("visible");
    if (p.visible) {
      p.column = i.at("position");
      p.x = 0.5 * (i.at("box")[0].get<double>() + i.at("box")[2].get<double>());
    }
    p.seconds = i.at("sounding_per_second").get<std::vector<int>>();
    if (!i.at("first_sound").is_null()) p.entry = i.at("first_sound").get<double>();
    p.played = i.at("sounding_seconds");
    p.loudness = i.at("loudness_db");
    p.rate = i.at("onset_rate");
    c.players.push_back(p);
  }
  return c;
}

// A person's reading of a question: which template and the words in its slots.
struct Reading {
  std::string templ;
  std::vector<std::string> values;
};

std::optional<Reading> read_question(const std::string& question) {
  static const std::vector<std::pair<std::string, std::regex>> patterns = [] {
    std::vector<std::pair<std::string, std::regex>> out;
    for (const auto& t : question_templates()) {
      std::string re;
      std::string text(t.text);
      while (text.back() == ' ')
        text.pop_back();  // the filled question keeps no trailing space
      for (std::size_t i = 0; i < text.size();) {
        if (text[i] == '<') {
          re += "([^ ]+)";  // classes, sides and ordinals are single words
          i = text.find('>', i) + 1;
          continue;
        }
        if (std::string("\\^$.|?*+()[]{}").find(text[i]) != std::string::npos) re += '\\';
        re += text[i++];
      }
      out.emplace_back(std::string(t.text), std::regex(re));
    }
    return out;
  }();
  // "Is the instrument on the left louder than ..." also fits "Is the <Object> on the <LR>
  // louder ..." with <Object> = "instrument": a reader takes the most literal reading, the one
  // with the fewest slots.
  std::optional<Reading> best;
  for (const auto& [text, re] : patterns) {
    std::smatch m;
    if (!std::regex_match(question, m, re)) continue;
    if (best && best->values.size() <= m.size() - 1) continue;
    Reading r{text, {}};
    for (std::size_t k = 1; k < m.size(); ++k)
      r.values.push_back(m[k]);
    best = r;
  }
  return best;
}

// The answer a person gives, or why the question should not have been asked.
struct Verdict {
  std::string answer;
  std::string ill_posed;  // non-empty: the question has no single answer
};

class Listener {
 public:
  explicit Listener(const Clip& c) : c_(c) {}

  Verdict answer(const Reading& r) const {
    const auto& v = r.values;
    const std::string& q = r.templ;
    if (q == "Is there a <Object> sound?") return yes(count(heard(v[0])) > 0);
    if (q == "Are there <Object> and <Object> sound? ")
      return yes(count(heard(v[0])) > 0 && count(heard(v[1])) > 0);
    if (q == "How many musical instruments were heard throughout the video?")
      return {count_word(count(heard())), {}};
    if (q == "Is the <Object> louder than the <Object>?") return louder(only(v[0]), only(v[1]));
    if (q == "Is the <Object> more rhythmic than the <Object>?")
      return rhythmic(only(v[0]), only(v[1]));
    if (q == "Is the <Object> playing longer than the <Object>?") {
      const auto a = only(v[0]);
      const auto b = only(v[1]);
      if (!a || !b) return bad("not one of each");
      const double d = c_.players[*a].played - c_.players[*b].played;
      // The file keeps times to the millisecond; the generator measured them on 20 ms frames.
      if (std::abs(d) < 1.0 - 1e-6) return bad("durations within a second");
      return yes(d > 0);
    }
    if (q == "Is there a <Object> in the entire video?") return yes(count(seen(v[0])) > 0);
    if (q == "Are there <Object> and <Object> instruments in the video?")
      return yes(count(seen(v[0])) > 0 && count(seen(v[1])) > 0);
    if (q == "How many <Object> are in the entire video?")
      return {count_word(count(seen(v[0]))), {}};
    if (q == "How many types of musical instruments appeared in the entire video?")
      return {count_word(names(seen()).size()), {}};
    if (q == "Where is the performance?") return {c_.background, {}};
    if (q == "What kind of musical instrument is it?") {
      if (seen().size() != 1) return bad("not one instrument");
      return {c_.players[seen()[0]].name, {}};
    }
    if (q == "What kind of instrument is the <LRer> instrument? ")
      return extreme(v[0] == "leftest");
    if (q == "What is the instrument on the <LR> of <Object>?") {
      const auto from = only_seen(v[1]);
      if (!from) return bad("not one such instrument on screen");
      return name_of(beside(*from, v[0] == "left"));
    }
    if (q == "Is this sound from the instrument in the video?") {
      for (const std::size_t i : heard()) {
        if (!c_.players[i].visible) return {"no", {}};
      }
      return {"yes", {}};
    }
    if (q == "Is there a voiceover?") return yes(c_.voiceover);
    if (q == "Is the <Object> in the video always playing?") {
      const auto i = only_seen(v[0]);
      if (!i) return bad("not one such instrument on screen");
      const auto& s = c_.players[*i].seconds;
      const auto silent = std::count(s.begin(), s.end(), 0);
      if (silent == 1) return bad("one silent second: a release tail or a rest?");
      return yes(silent == 0);
    }
    if (q == "How many instruments are sounding in the video?")
      return {count_word(count(seen_heard())), {}};
    if (q == "How many instruments in the video did not sound from beginning to end?")
      return {count_word(seen().size() - seen_heard().size()), {}};
    if (q == "How many sounding <Object> in the video\xEF\xBC\x9F") {
      std::size_t n = 0;
      for (const std::size_t i : seen_heard())
        n += c_.players[i].name == v[0];
      return {count_word(n), {}};
    }
    if (q == "How many types of musical instruments sound in the video?")
      return {count_word(names(seen_heard()).size()), {}};
    if (q == "Where is the <LL> instrument?") return where_level(v[0] == "loudest");
    if (q == "Is the <FL> sound coming from the <LR> instrument?") {
      const auto w = entrant(heard(), v[0] == "first");
      if (!w) return bad("no clear entry");
      const auto there = in_column(v[1]);
      if (there.size() != 1) return bad("not one instrument in that column");
      return yes(there[0] == *w);
    }
    if (q == "What is the <LR> instrument of the <FL> sounding instrument?") {
      const auto w = entrant(heard(), v[1] == "first");
      if (!w || !c_.players[*w].visible) return bad("no clear entry on screen");
      return name_of(beside(*w, v[0] == "left"));
    }
    if (q == "Which is the musical instrument that sounds at the same time as the <Object>?")
      return together_with(v[0]);
    if (q == "Is the <Object> on the <LR> louder than the <Object> on the <LR>?")
      return louder(at(v[0], v[1]), at(v[2], v[3]));
    if (q == "Is the <Object> on the <LR> more rhythmic than the <Object> on the <LR>?")
      return rhythmic(at(v[0], v[1]), at(v[2], v[3]));
    if (q == "Is the instrument on the <LR> louder than the instrument on the <LR>?")
      return louder(alone_in(v[0]), alone_in(v[1]));
    if (q == "Is the instrument on the <LR> more rhythmic than the instrument on the <LR>?")
      return rhythmic(alone_in(v[0]), alone_in(v[1]));
    if (q == "Where is the <FL> sounding instrument?") {
      const auto w = entrant(heard(), v[0] == "first");
      if (!w || !c_.players[*w].visible) return bad("no clear entry on screen");
      return {c_.players[*w].column, {}};
    }
    if (q == "Which <Object> makes the sound <FL>?") return which_first(v[0], v[1] == "first");
    if (q == "What is the <TH> instrument that comes in?") {
      const std::vector<std::string> ordinals = {"first", "second", "third", "fourth", "fifth"};
      const auto k = static_cast<std::size_t>(std::find(ordinals.begin(), ordinals.end(), v[0]) -
                                              ordinals.begin());
      const auto order = entry_order(heard());
      if (k >= order.size() || !apart(order, k)) return bad("no clear n-th entry");
      return {c_.players[order[k]].name, {}};
    }
    if (q == "Which instrument makes sounds <BA> the <Object>?") {
      const auto order = entry_order(heard());
      const auto named = only(v[1]);
      if (!named) return bad("not one such instrument");
      const auto k =
          static_cast<std::size_t>(std::find(order.begin(), order.end(), *named) - order.begin());
      const bool before = v[0] == "before";
      if (k == order.size() || (before && k == 0) || (!before && k + 1 == order.size()))
        return bad("nothing enters there");
      const std::size_t other = before ? k - 1 : k + 1;
      if (!apart(order, k) || !apart(order, other)) return bad("entries too close");
      return {c_.players[order[other]].name, {}};
    }
    return bad("unread template " + q);
  }

 private:
  static Verdict yes(bool b) { return {b ? "yes" : "no", {}}; }
  static Verdict bad(const std::string& why) { return {{}, why}; }

  std::vector<std::size_t> pick(bool (*keep)(const Player&), const std::string& name = {}) const {
    std::vector<std::size_t> out;
    for (std::size_t i = 0; i < c_.players.size(); ++i) {
      if (keep(c_.players[i]) && (name.empty() || c_.players[i].name == name)) out.push_back(i);
    }
    return out;
  }
  std::vector<std::size_t> heard(const std::string& name = {}) const {
    return pick([](const Player& p) { return p.sounds(); }, name);
  }
  std::vector<std::size_t> seen(const std::string& name = {}) const {
    return pick([](const Player& p) { return p.visible; }, name);
  }
  std::vector<std::size_t> seen_heard() const {
    return pick([](const Player& p) { return p.visible && p.sounds(); });
  }
  static std::size_t count(const std::vector<std::size_t>& v) { return v.size(); }
  std::set<std::string> names(const std::vector<std::size_t>& v) const {
    std::set<std::string> out;
    for (const std::size_t i : v)
      out.insert(c_.players[i].name);
    return out;
  }
  // "The <Object>": the one instrument of that class, seen or heard.
  std::optional<std::size_t> only(const std::string& name) const {
    const auto all = pick([](const Player&) { return true; }, name);
    if (all.size() != 1) return std::nullopt;
    return all[0];
  }
  std::optional<std::size_t> only_seen(const std::string& name) const {
    const auto s = seen(name);
    if (s.size() != 1) return std::nullopt;
    return s[0];
  }
  std::vector<std::size_t> in_column(const std::string& column) const {
    std::vector<std::size_t> out;
    for (const std::size_t i : seen()) {
      if (c_.players[i].column == column) out.push_back(i);
    }
    return out;
  }
  std::optional<std::size_t> at(const std::string& name, const std::string& column) const {
    std::optional<std::size_t> found;
    for (const std::size_t i : in_column(column)) {
      if (c_.players[i].name != name) continue;
      if (found) return std::nullopt;
      found = i;
    }
    return found;
  }
  std::optional<std::size_t> alone_in(const std::string& column) const {
    const auto there = in_column(column);
    if (there.size() != 1) return std::nullopt;
    return there[0];
  }
  Verdict name_of(std::optional<std::size_t> i) const {
    if (!i) return bad("no clear instrument there");
    return {c_.players[*i].name, {}};
  }

  Verdict louder(std::optional<std::size_t> a, std::optional<std::size_t> b) const {
    if (!a || !b || !c_.players[*a].sounds() || !c_.players[*b].sounds())
      return bad("not two sounding instruments");
    const double d = c_.players[*a].loudness - c_.players[*b].loudness;
    if (std::abs(d) < 3.0) return bad("levels within 3 dB");
    return yes(d > 0);
  }
  Verdict rhythmic(std::optional<std::size_t> a, std::optional<std::size_t> b) const {
    if (!a || !b || !c_.players[*a].sounds() || !c_.players[*b].sounds())
      return bad("not two sounding instruments");
    const double ra = c_.players[*a].rate;
    const double rb = c_.players[*b].rate;
    const double lo = std::min(ra, rb);
    const double hi = std::max(ra, rb);
    if (hi - lo < 0.5 || (lo > 0 && hi / lo < 1.5)) return bad("onset rates too close");
    return yes(ra > rb);
  }

  // The nearest instrument on screen clearly to the left (right) of `from`.
  std::optional<std::size_t> beside(std::size_t from, bool left) const {
    const double gap = c_.width / 12.0;
    std::vector<double> distances;
    std::optional<std::size_t> nearest;
    double best = 1e9;
    for (const std::size_t i : seen()) {
      const double dx = (c_.players[i].x - c_.players[from].x) * (left ? -1 : 1);
      if (i == from || dx < gap) continue;
      distances.push_back(dx);
      if (dx < best) {
        best = dx;
        nearest = i;
      }
    }
    std::sort(distances.begin(), distances.end());
    if (distances.size() > 1 && distances[1] - distances[0] < gap) return std::nullopt;
    return nearest;
  }
  Verdict extreme(bool leftest) const {
    auto s = seen();
    if (s.size() < 2) return bad("fewer than two instruments");
    std::sort(s.begin(), s.end(),
              [&](std::size_t a, std::size_t b) { return c_.players[a].x < c_.players[b].x; });
    if (!leftest) std::reverse(s.begin(), s.end());
    if (std::abs(c_.players[s[0]].x - c_.players[s[1]].x) < c_.width / 12.0)
      return bad("two instruments nearly level");
    return {c_.players[s[0]].name, {}};
  }
  Verdict where_level(bool loudest) const {
    if (seen_heard().size() < 2) return bad("fewer than two sounding on screen");
    auto h = heard();
    std::sort(h.begin(), h.end(), [&](std::size_t a, std::size_t b) {
      return c_.players[a].loudness > c_.players[b].loudness;
    });
    if (!loudest) std::reverse(h.begin(), h.end());
    if (std::abs(c_.players[h[0]].loudness - c_.players[h[1]].loudness) < 3.0)
      return bad("levels within 3 dB");
    if (!c_.players[h[0]].visible) return bad("it is off screen");
    return {c_.players[h[0]].column, {}};
  }

  // Heard instruments in the order they come in.
  std::vector<std::size_t> entry_order(std::vector<std::size_t> pool) const {
    std::stable_sort(pool.begin(), pool.end(), [&](std::size_t a, std::size_t b) {
      return *c_.players[a].entry < *c_.players[b].entry;
    });
    return pool;
  }
  bool apart(const std::vector<std::size_t>& order, std::size_t k) const {
    auto t = [&](std::size_t i) { return *c_.players[order[i]].entry; };
    return (k == 0 || t(k) - t(k - 1) >= 0.5) && (k + 1 == order.size() || t(k + 1) - t(k) >= 0.5);
  }
  std::optional<std::size_t> entrant(const std::vector<std::size_t>& pool, bool first) const {
    if (pool.size() < 2) return std::nullopt;
    const auto order = entry_order(pool);
    const std::size_t k = first ? 0 : order.size() - 1;
    if (!apart(order, k)) return std::nullopt;
    return order[k];
  }
  Verdict which_first(const std::string& name, bool first) const {
    std::vector<std::size_t> same;
    for (const std::size_t i : seen_heard()) {
      if (c_.players[i].name == name) same.push_back(i);
    }
    if (same.size() < 2) return bad("fewer than two of them sound");
    auto order = entry_order(same);
    if (!first) std::reverse(order.begin(), order.end());
    const double gap = std::abs(*c_.players[order[0]].entry - *c_.players[order[1]].entry);
    if (gap < 0.1) return {"simultaneously", {}};
    if (gap < 0.5) return bad("entries neither together nor apart");
    const std::string& column = c_.players[order[0]].column;
    if (at(name, column) != order[0]) return bad("two of them in that column");
    return {column, {}};
  }
  Verdict together_with(const std::string& name) const {
    const auto a = only(name);
    if (!a || !c_.players[*a].visible || !c_.players[*a].sounds()) return bad("no such player");
    std::vector<std::pair<int, std::size_t>> overlap;
    for (const std::size_t b : heard()) {
      if (b == *a) continue;
      int both = 0;
      for (std::size_t s = 0; s < c_.players[b].seconds.size(); ++s)
        both += c_.players[*a].seconds[s] && c_.players[b].seconds[s];
      overlap.emplace_back(both, b);
    }
    std::sort(overlap.rbegin(), overlap.rend());
    if (overlap.empty() || overlap[0].first < 1) return bad("nothing sounds with it");
    if (overlap.size() > 1 && overlap[0].first - overlap[1].first < 1)
      return bad("two overlap as long");
    return {c_.players[overlap[0].second].name, {}};
  }

  const Clip& c_;
};

bool have_soundfont() {
  std::error_code ec;
  return std::filesystem::is_regular_file(kDefaultSoundfont, ec);
}

// Every instrument of the table, a sparse and a dense part over seconds 2..5, played quietly
// (about -33 dBFS, as a part 15 dB under the loudest one of a mix): a listener hears it sound
// in exactly those seconds, whether its notes decay fast (xylophone, congas) or not, and hears
// its notes come in, legato ones included.
TEST(TruthCheck, QuietDecayingAndLegatoPartsAreHeardAsPlayed) {
  if (!have_soundfont()) GTEST_SKIP() << "Debian's fluid-soundfont-gm is not installed";
  const auto table = InstrumentTable::builtin();
  constexpr int kRate = 16000;
  InstrumentSynth synth(kDefaultSoundfont, kRate);
  const int pentatonic[] = {0, 2, 4, 7, 9};
  int parts = 0;
  int counted_well = 0;
  for (const InstrumentSpec& spec : table.instruments()) {
    for (const bool dense : {false, true}) {
      const double step = dense ? 0.2 : (spec.articulation == Articulation::Sustained ? 0.9 : 0.4);
      std::vector<NoteEvent> notes;
      int degree = 3;
      for (double t = 2.02; t + 0.5 * step <= 5.7; t += step) {
        NoteEvent n;
        n.start = t;
        n.duration = step * (dense ? 0.55 : 0.9);
        degree = (degree + (notes.size() % 3 == 0 ? 2 : 1)) % 10;  // a melody that moves
        n.key = spec.percussion()
                    ? spec.keys[notes.size() % spec.keys.size()]
                    : std::min(spec.pitch_high, (spec.pitch_low + spec.pitch_high) / 2 - 6 +
                                                    12 * (degree / 5) + pentatonic[degree % 5]);
        notes.push_back(n);
      }
      std::vector<float> stem = synth.render(spec, notes, 8);
      double peak = 0;
      for (const float x : stem)
        peak = std::max(peak, static_cast<double>(std::abs(x)));
      for (float& x : stem)
        x = static_cast<float>(x * 0.08 / peak);  // peak -22 dBFS
      const StemAnalysis a = analyse_stem(stem, kRate, 8);
      const std::string part = spec.name + (dense ? " dense" : " sparse");
      EXPECT_EQ(a.sounding_per_second,
                (std::vector<bool>{false, false, true, true, true, true, false, false}))
          << part << " at " << a.loudness_db << " dBFS";
      EXPECT_GE(a.onsets.size(), 1u) << part;
      const double ratio = static_cast<double>(a.onsets.size()) / static_cast<double>(notes.size());
      ++parts;
      counted_well += ratio >= 0.7 && ratio <= 1.3;
      if (ratio < 0.7 || ratio > 1.3)
        std::cout << "  " << part << ": " << notes.size() << " notes, " << a.onsets.size()
                  << " onsets\n";
    }
  }
  // Sparse sustained parts are the hard case (vibrato and bow noise read as extra notes, up to
  // two per note here): 37 of the 44 parts count within 30 %.
  EXPECT_GE(counted_well, parts * 80 / 100) << counted_well << " of " << parts;
}

TEST(TruthCheck, EveryTemplateAgreesWithAListenerOnHundredsOfClips) {
  if (!have_soundfont()) GTEST_SKIP() << "Debian's fluid-soundfont-gm is not installed";
  GeneratorOptions o;
  o.seed = 8;
  o.progress = false;
  constexpr int kClips = 300;
  const std::vector<SceneTruth> truths = measure_truths(o, kClips);
  const auto table = InstrumentTable::builtin();

  std::map<std::string, int> asked;
  std::size_t above_four = 0;
  std::size_t silent_clips = 0;
  int disagreements = 0;
  for (const SceneTruth& truth : truths) {
    const std::string file = to_json(truth);
    const Clip clip = read_clip(file);
    const Listener listener(clip);
    silent_clips += std::none_of(clip.players.begin(), clip.players.end(),
                                 [](const Player& p) { return p.sounds(); });
    std::vector<std::string> absent;
    for (const auto& spec : table.instruments()) {
      if (std::none_of(truth.instruments.begin(), truth.instruments.end(),
                       [&](const InstrumentTruth& i) { return i.name == spec.name; }))
        absent.push_back(spec.name);
    }
    absent.resize(3);
    for (const QuestionTemplate& t : question_templates()) {
      for (const QuestionCandidate& c : question_candidates(t, truth, absent)) {
        const std::string question = data::filled_question(t.text, c.values);
        const auto reading = read_question(question);
        ASSERT_TRUE(reading.has_value()) << question;
        const Verdict v = listener.answer(*reading);
        ++asked[std::string(t.text)];
        if (t.type == data::QuestionType::AudioVisualCounting &&
            std::find(std::begin(kCounts) + 5, std::end(kCounts), c.answer) != std::end(kCounts))
          ++above_four;
        if (!v.ill_posed.empty() || v.answer != c.answer) {
          if (++disagreements <= 20) {
            ADD_FAILURE() << truth.video_id << ": \"" << question << "\" generated '" << c.answer
                          << "', a listener says "
                          << (v.ill_posed.empty() ? "'" + v.answer + "'"
                                                  : "ill-posed: " + v.ill_posed)
                          << "\n"
                          << file;
          }
        }
      }
    }
  }
  std::size_t total = 0;
  for (const auto& [text, n] : asked)
    total += static_cast<std::size_t>(n);
  std::cout << "  " << total << " questions of " << asked.size() << " templates on " << kClips
            << " clips; " << above_four << " audio-visual counts above four\n";
  EXPECT_EQ(disagreements, 0);
  EXPECT_EQ(silent_clips, 0u) << "the real data has no silent video";
  EXPECT_GT(above_four, 0u) << "audio-visual counts should reach past four, as real ones do";
  for (const QuestionTemplate& t : question_templates())
    EXPECT_GE(asked[std::string(t.text)], 10) << "rarely asked: " << t.text;
}

}  // namespace
}  // namespace avqa::synthetic
