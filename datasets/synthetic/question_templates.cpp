#include "datasets/synthetic/question_templates.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <optional>
#include <set>

namespace avqa::synthetic {
namespace {

using data::QuestionType;
using Candidates = std::vector<QuestionCandidate>;

const std::vector<QuestionTemplate> kTemplates = {
    {0, QuestionType::AudioCounting, "Is there a <Object> sound?", {}},
    {1, QuestionType::AudioCounting, "Are there <Object> and <Object> sound? ", {}},
    {2,
     QuestionType::AudioCounting,
     "How many musical instruments were heard throughout the video?",
     {}},
    {3, QuestionType::AudioComparative, "Is the <Object> louder than the <Object>?", {}},
    {4, QuestionType::AudioComparative, "Is the <Object> more rhythmic than the <Object>?", {}},
    {5, QuestionType::AudioComparative, "Is the <Object> playing longer than the <Object>?", {}},
    {6, QuestionType::VisualCounting, "Is there a <Object> in the entire video?", {}},
    {7,
     QuestionType::VisualCounting,
     "Are there <Object> and <Object> instruments in the video?",
     {}},
    {8, QuestionType::VisualCounting, "How many <Object> are in the entire video?", {}},
    {9,
     QuestionType::VisualCounting,
     "How many types of musical instruments appeared in the entire video?",
     {}},
    {10, QuestionType::VisualLocation, "Where is the performance?", {}},
    {11, QuestionType::VisualLocation, "What kind of musical instrument is it?", {}},
    {12, QuestionType::VisualLocation, "What kind of instrument is the <LRer> instrument? ", {}},
    {13, QuestionType::VisualLocation, "What is the instrument on the <LR> of <Object>?", {}},
    {14,
     QuestionType::AudioVisualExistential,
     "Is this sound from the instrument in the video?",
     {}},
    {15, QuestionType::AudioVisualExistential, "Is there a voiceover?", {}},
    {16, QuestionType::AudioVisualExistential, "Is the <Object> in the video always playing?", {}},
    {17, QuestionType::AudioVisualCounting, "How many instruments are sounding in the video?", {}},
    {18,
     QuestionType::AudioVisualCounting,
     "How many instruments in the video did not sound from beginning to end?",
     {}},
    {19,
     QuestionType::AudioVisualCounting,
     "How many sounding <Object> in the video\xEF\xBC\x9F",
     {}},
    {20,
     QuestionType::AudioVisualCounting,
     "How many types of musical instruments sound in the video?",
     {}},
    {21, QuestionType::AudioVisualLocation, "Where is the <LL> instrument?", {}},
    {22,
     QuestionType::AudioVisualLocation,
     "Is the <FL> sound coming from the <LR> instrument?",
     {}},
    {23,
     QuestionType::AudioVisualLocation,
     "What is the <LR> instrument of the <FL> sounding instrument?",
     {}},
    {24,
     QuestionType::AudioVisualLocation,
     "Which is the musical instrument that sounds at the same time as the <Object>?",
     {}},
    {25,
     QuestionType::AudioVisualComparative,
     "Is the <Object> on the <LR> louder than the <Object> on the <LR>?",
     {}},
    {26,
     QuestionType::AudioVisualComparative,
     "Is the <Object> on the <LR> more rhythmic than the <Object> on the <LR>?",
     {}},
    {27,
     QuestionType::AudioVisualComparative,
     "Is the instrument on the <LR> louder than the instrument on the <LR>?",
     {}},
    {28,
     QuestionType::AudioVisualComparative,
     "Is the instrument on the <LR> more rhythmic than the instrument on the <LR>?",
     {}},
    {29, QuestionType::AudioVisualTemporal, "Where is the <FL> sounding instrument?", {}},
    {30, QuestionType::AudioVisualTemporal, "Which <Object> makes the sound <FL>?", {}},
    {31, QuestionType::AudioVisualTemporal, "What is the <TH> instrument that comes in?", {}},
    {32, QuestionType::AudioVisualTemporal, "Which instrument makes sounds <BA> the <Object>?", {}},
};

const char* const kColumns[] = {"left", "middle", "right"};
const char* const kOrdinals[] = {"first", "second", "third", "fourth", "fifth"};

// The questions' view of a scene: index sets and the comparisons every template shares.
class SceneView {
 public:
  SceneView(const SceneTruth& truth, const AnswerMargins& margins) : t_(truth), m_(margins) {
    for (std::size_t i = 0; i < truth.instruments.size(); ++i) {
      const auto& inst = truth.instruments[i];
      all_.push_back(i);
      if (inst.visible) visible_.push_back(i);
      if (inst.sounds()) sounding_.push_back(i);
      if (inst.visible && inst.sounds()) visible_sounding_.push_back(i);
    }
  }

  const InstrumentTruth& at(std::size_t i) const { return t_.instruments[i]; }
  const std::vector<std::size_t>& all() const { return all_; }
  const std::vector<std::size_t>& visible() const { return visible_; }
  const std::vector<std::size_t>& sounding() const { return sounding_; }
  const std::vector<std::size_t>& visible_sounding() const { return visible_sounding_; }
  const SceneTruth& truth() const { return t_; }
  const AnswerMargins& margins() const { return m_; }

  std::size_t count(const std::vector<std::size_t>& pool, const std::string& name) const {
    return static_cast<std::size_t>(
        std::count_if(pool.begin(), pool.end(), [&](std::size_t i) { return at(i).name == name; }));
  }

  std::set<std::string> names(const std::vector<std::size_t>& pool) const {
    std::set<std::string> out;
    for (const std::size_t i : pool)
      out.insert(at(i).name);
    return out;
  }

  /// The one instance of `name` in `pool`, if there is exactly one.
  std::optional<std::size_t> unique(const std::vector<std::size_t>& pool,
                                    const std::string& name) const {
    std::optional<std::size_t> found;
    for (const std::size_t i : pool) {
      if (at(i).name != name) continue;
      if (found) return std::nullopt;
      found = i;
    }
    return found;
  }

  /// Visible instruments standing in `column`.
  std::vector<std::size_t> in_column(const std::string& column) const {
    std::vector<std::size_t> out;
    for (const std::size_t i : visible_) {
      if (to_string(at(i).column) == column) out.push_back(i);
    }
    return out;
  }

  static std::optional<std::string> yes_no(std::optional<bool> answer) {
    if (!answer) return std::nullopt;
    return std::string(*answer ? "yes" : "no");
  }

  std::optional<bool> louder(std::size_t a, std::size_t b) const {
    const double d = at(a).loudness_db - at(b).loudness_db;
    if (std::abs(d) < m_.loudness_db) return std::nullopt;
    return d > 0;
  }

  std::optional<bool> more_rhythmic(std::size_t a, std::size_t b) const {
    const double ra = at(a).onset_rate;
    const double rb = at(b).onset_rate;
    const double lo = std::min(ra, rb);
    const double hi = std::max(ra, rb);
    if (hi - lo < m_.onset_rate || (lo > 0 && hi / lo < m_.onset_ratio)) return std::nullopt;
    return ra > rb;
  }

  std::optional<bool> longer(std::size_t a, std::size_t b) const {
    const double d = at(a).sounding_seconds - at(b).sounding_seconds;
    if (std::abs(d) < m_.duration_seconds) return std::nullopt;
    return d > 0;
  }

  /// The visible instrument nearest to `from` on its left or right, when it is clearly nearest.
  std::optional<std::size_t> neighbour(std::size_t from, bool left) const {
    const double min_gap = m_.location_fraction * t_.width;
    std::vector<std::pair<double, std::size_t>> side;
    for (const std::size_t i : visible_) {
      if (i == from) continue;
      const double dx = at(i).box.center_x() - at(from).box.center_x();
      if ((left ? -dx : dx) >= min_gap) side.emplace_back(std::abs(dx), i);
    }
    if (side.empty()) return std::nullopt;
    std::sort(side.begin(), side.end());
    if (side.size() > 1 && side[1].first - side[0].first < min_gap) return std::nullopt;
    return side[0].second;
  }

  /// When `i` is first heard: the measured time, else (hand-built truth) the start of its first
  /// sounding second.
  double entry(std::size_t i) const {
    return at(i).first_sound.value_or(static_cast<double>(*at(i).first_second()));
  }

  /// `pool` sorted by entry; ties keep their relative order.
  std::vector<std::pair<double, std::size_t>> onset_order(
      const std::vector<std::size_t>& pool) const {
    std::vector<std::pair<double, std::size_t>> order;
    for (const std::size_t i : pool)
      order.emplace_back(entry(i), i);
    std::stable_sort(order.begin(), order.end(),
                     [](const auto& a, const auto& b) { return a.first < b.first; });
    return order;
  }

  /// Whether the k-th entry of `order` is clearly apart from its neighbours, so "the k-th to come
  /// in" names one instrument a listener would agree on.
  bool entry_apart(const std::vector<std::pair<double, std::size_t>>& order, std::size_t k) const {
    const double gap = m_.entry_seconds;
    return (k == 0 || order[k].first - order[k - 1].first >= gap) &&
           (k + 1 == order.size() || order[k + 1].first - order[k].first >= gap);
  }

  /// The instrument that comes in first (or last) among `pool`, when it comes in clearly apart
  /// from the next.
  std::optional<std::size_t> by_onset(const std::vector<std::size_t>& pool, bool first) const {
    if (pool.empty()) return std::nullopt;
    const auto order = onset_order(pool);
    const std::size_t k = first ? 0 : order.size() - 1;
    if (!entry_apart(order, k)) return std::nullopt;
    return order[k].second;
  }

 private:
  const SceneTruth& t_;
  AnswerMargins m_;
  std::vector<std::size_t> all_, visible_, sounding_, visible_sounding_;
};

void add(Candidates& out, std::vector<std::string> values, std::optional<std::string> answer) {
  if (answer) out.push_back({std::move(values), std::move(*answer)});
}

// Ordered pairs of distinct sounding instruments, each the only one of its class in `pool`.
template <typename Compare>
Candidates compare_by_class(const SceneView& v,
                            const std::vector<std::size_t>& pool,
                            Compare compare) {
  Candidates out;
  for (const std::size_t a : v.sounding()) {
    for (const std::size_t b : v.sounding()) {
      if (a == b || !v.unique(pool, v.at(a).name) || !v.unique(pool, v.at(b).name)) continue;
      if (v.at(a).name == v.at(b).name) continue;
      add(out, {v.at(a).name, v.at(b).name}, SceneView::yes_no(compare(a, b)));
    }
  }
  return out;
}

// Visible sounding instruments named by class and column ("the violin on the left").
template <typename Compare>
Candidates compare_by_class_and_column(const SceneView& v, Compare compare) {
  Candidates out;
  auto identified = [&](std::size_t i) {
    const std::string column = to_string(v.at(i).column);
    const auto there = v.in_column(column);
    return v.count(there, v.at(i).name) == 1;
  };
  for (const std::size_t a : v.visible_sounding()) {
    for (const std::size_t b : v.visible_sounding()) {
      if (a == b || !identified(a) || !identified(b)) continue;
      if (v.at(a).name == v.at(b).name && v.at(a).column == v.at(b).column) continue;
      add(out, {v.at(a).name, to_string(v.at(a).column), v.at(b).name, to_string(v.at(b).column)},
          SceneView::yes_no(compare(a, b)));
    }
  }
  return out;
}

// "The instrument on the <LR>": columns holding exactly one visible instrument, which sounds.
template <typename Compare>
Candidates compare_by_column(const SceneView& v, Compare compare) {
  Candidates out;
  for (const char* ca : kColumns) {
    for (const char* cb : kColumns) {
      if (std::string(ca) == cb) continue;
      const auto a = v.in_column(ca);
      const auto b = v.in_column(cb);
      if (a.size() != 1 || b.size() != 1 || !v.at(a[0]).sounds() || !v.at(b[0]).sounds()) continue;
      add(out, {ca, cb}, SceneView::yes_no(compare(a[0], b[0])));
    }
  }
  return out;
}

Candidates generate(int id, const SceneView& v, const std::vector<std::string>& others) {
  Candidates out;
  const SceneTruth& t = v.truth();
  const std::set<std::string> present = v.names(v.all());
  const std::set<std::string> visible_names = v.names(v.visible());
  std::vector<std::string> askable(present.begin(),
                                   present.end());  // classes in the scene, then absent ones
  askable.insert(askable.end(), others.begin(), others.end());

  switch (id) {
    case 0:  // Is there a <Object> sound?
      for (const auto& name : askable)
        add(out, {name}, v.count(v.sounding(), name) > 0 ? "yes" : "no");
      break;
    case 1:  // Are there <Object> and <Object> sound?
      for (const auto& a : askable) {
        for (const auto& b : askable) {
          if (a != b)
            add(out, {a, b},
                v.count(v.sounding(), a) > 0 && v.count(v.sounding(), b) > 0 ? "yes" : "no");
        }
      }
      break;
    case 2:  // How many musical instruments were heard throughout the video?
      add(out, {}, count_answer(v.sounding().size()));
      break;
    case 3:
      return compare_by_class(v, v.all(),
                              [&](std::size_t a, std::size_t b) { return v.louder(a, b); });
    case 4:
      return compare_by_class(v, v.all(),
                              [&](std::size_t a, std::size_t b) { return v.more_rhythmic(a, b); });
    case 5:
      return compare_by_class(v, v.all(),
                              [&](std::size_t a, std::size_t b) { return v.longer(a, b); });
    case 6:  // Is there a <Object> in the entire video?
      for (const auto& name : askable)
        add(out, {name}, visible_names.count(name) ? "yes" : "no");
      break;
    case 7:  // Are there <Object> and <Object> instruments in the video?
      for (const auto& a : askable) {
        for (const auto& b : askable) {
          if (a != b)
            add(out, {a, b}, visible_names.count(a) && visible_names.count(b) ? "yes" : "no");
        }
      }
      break;
    case 8:  // How many <Object> are in the entire video?
      for (const auto& name : askable)
        add(out, {name}, count_answer(v.count(v.visible(), name)));
      break;
    case 9:  // How many types of musical instruments appeared in the entire video?
      if (!v.visible().empty()) add(out, {}, count_answer(visible_names.size()));
      break;
    case 10:  // Where is the performance?
      add(out, {}, t.background);
      break;
    case 11:  // What kind of musical instrument is it?
      if (v.visible().size() == 1) add(out, {}, v.at(v.visible()[0]).name);
      break;
    case 12: {  // What kind of instrument is the <LRer> instrument?
      if (v.visible().size() < 2) break;
      std::vector<std::pair<double, std::size_t>> xs;
      for (const std::size_t i : v.visible())
        xs.emplace_back(v.at(i).box.center_x(), i);
      std::sort(xs.begin(), xs.end());
      const double gap = t.width / 12.0;
      if (xs[1].first - xs[0].first >= gap) add(out, {"leftest"}, v.at(xs.front().second).name);
      if (xs[xs.size() - 1].first - xs[xs.size() - 2].first >= gap)
        add(out, {"rightest"}, v.at(xs.back().second).name);
      break;
    }
    case 13:  // What is the instrument on the <LR> of <Object>?
      for (const auto& name : visible_names) {
        const auto named = v.unique(v.visible(), name);
        if (!named) continue;
        for (const bool left : {true, false}) {
          if (const auto n = v.neighbour(*named, left))
            add(out, {left ? "left" : "right", name}, v.at(*n).name);
        }
      }
      break;
    case 14:  // Is this sound from the instrument in the video?
      if (!v.sounding().empty()) add(out, {}, t.offscreen_sounds() ? "no" : "yes");
      break;
    case 15:  // Is there a voiceover?
      add(out, {}, t.voiceover && t.voiceover->first_sound ? "yes" : "no");
      break;
    case 16:  // Is the <Object> in the video always playing?
      for (const auto& name : visible_names) {
        const auto i = v.unique(v.visible(), name);
        if (!i) continue;
        const auto& seconds = v.at(*i).sounding_per_second;
        const auto silent = std::count(seconds.begin(), seconds.end(), false);
        if (silent == 0) add(out, {name}, "yes");
        if (silent >= 2)
          add(out, {name}, "no");  // one silent second could be a release tail: not asked
      }
      break;
    case 17:  // How many instruments are sounding in the video?
      if (!v.visible().empty()) add(out, {}, count_answer(v.visible_sounding().size()));
      break;
    case 18:  // How many instruments in the video did not sound from beginning to end?
      if (!v.visible().empty())
        add(out, {}, count_answer(v.visible().size() - v.visible_sounding().size()));
      break;
    case 19:  // How many sounding <Object> in the video?
      for (const auto& name : visible_names)
        add(out, {name}, count_answer(v.count(v.visible_sounding(), name)));
      for (const auto& name : others)
        add(out, {name}, count_answer(0));
      break;
    case 20:  // How many types of musical instruments sound in the video?
      if (!v.visible().empty()) add(out, {}, count_answer(v.names(v.visible_sounding()).size()));
      break;
    case 21: {  // Where is the <LL> instrument?  (lowest = quietest)
      // Everything heard competes; when the winner is off screen, "where" has no answer.
      const auto& pool = v.sounding();
      if (v.visible_sounding().size() < 2) break;
      std::vector<std::pair<double, std::size_t>> by_level;
      for (const std::size_t i : pool)
        by_level.emplace_back(v.at(i).loudness_db, i);
      std::sort(by_level.begin(), by_level.end());
      const double margin = v.margins().loudness_db;
      const std::size_t loudest = by_level.back().second;
      const std::size_t lowest = by_level.front().second;
      if (by_level[by_level.size() - 1].first - by_level[by_level.size() - 2].first >= margin &&
          v.at(loudest).visible) {
        add(out, {"loudest"}, to_string(v.at(loudest).column));
      }
      if (by_level[1].first - by_level[0].first >= margin && v.at(lowest).visible)
        add(out, {"lowest"}, to_string(v.at(lowest).column));
      break;
    }
    case 22:  // Is the <FL> sound coming from the <LR> instrument?
      // Off-screen sources take part in the order: the first sound may come from none of them.
      for (const bool first : {true, false}) {
        const auto winner = v.by_onset(v.sounding(), first);
        if (!winner || v.sounding().size() < 2 || v.visible_sounding().empty()) continue;
        for (const char* column : kColumns) {
          const auto there = v.in_column(column);
          if (there.size() == 1)
            add(out, {first ? "first" : "last", column}, there[0] == *winner ? "yes" : "no");
        }
      }
      break;
    case 23:  // What is the <LR> instrument of the <FL> sounding instrument?
      for (const bool first : {true, false}) {
        const auto winner = v.by_onset(v.sounding(), first);
        if (!winner || v.sounding().size() < 2 || !v.at(*winner).visible) continue;
        for (const bool left : {true, false}) {
          if (const auto n = v.neighbour(*winner, left))
            add(out, {left ? "left" : "right", first ? "first" : "last"}, v.at(*n).name);
        }
      }
      break;
    case 24:  // Which is the musical instrument that sounds at the same time as the <Object>?
      // The partner may be heard off screen: a listener names it all the same.
      for (const std::size_t a : v.visible_sounding()) {
        if (!v.unique(v.all(), v.at(a).name)) continue;
        std::vector<std::pair<int, std::size_t>> overlaps;
        for (const std::size_t b : v.sounding()) {
          if (b == a) continue;
          int both = 0;
          for (std::size_t s = 0; s < v.at(a).sounding_per_second.size(); ++s) {
            both += v.at(a).sounding_per_second[s] && v.at(b).sounding_per_second[s];
          }
          overlaps.emplace_back(both, b);
        }
        if (overlaps.empty()) continue;
        std::sort(overlaps.rbegin(), overlaps.rend());
        const int best = overlaps[0].first;
        const int next = overlaps.size() > 1 ? overlaps[1].first : 0;
        if (best >= 1 && best - next >= v.margins().overlap_seconds &&
            v.at(overlaps[0].second).name != v.at(a).name) {
          add(out, {v.at(a).name}, v.at(overlaps[0].second).name);
        }
      }
      break;
    case 25:
      return compare_by_class_and_column(
          v, [&](std::size_t a, std::size_t b) { return v.louder(a, b); });
    case 26:
      return compare_by_class_and_column(
          v, [&](std::size_t a, std::size_t b) { return v.more_rhythmic(a, b); });
    case 27:
      return compare_by_column(v, [&](std::size_t a, std::size_t b) { return v.louder(a, b); });
    case 28:
      return compare_by_column(v,
                               [&](std::size_t a, std::size_t b) { return v.more_rhythmic(a, b); });
    case 29:  // Where is the <FL> sounding instrument?
      if (v.sounding().size() < 2) break;
      for (const bool first : {true, false}) {
        const auto w = v.by_onset(v.sounding(), first);
        if (w && v.at(*w).visible) add(out, {first ? "first" : "last"}, to_string(v.at(*w).column));
      }
      break;
    case 30:  // Which <Object> makes the sound <FL>?
      for (const auto& name : visible_names) {
        std::vector<std::size_t> same;
        for (const std::size_t i : v.visible_sounding()) {
          if (v.at(i).name == name) same.push_back(i);
        }
        if (same.size() < 2) continue;
        for (const bool first : {true, false}) {
          auto order = v.onset_order(same);
          if (!first) std::reverse(order.begin(), order.end());
          const double apart = std::abs(order[1].first - order[0].first);
          if (apart < v.margins().together_seconds) {
            add(out, {name, first ? "first" : "last"}, "simultaneously");
            continue;
          }
          if (apart < v.margins().entry_seconds) continue;  // neither together nor one first
          const std::size_t w = order[0].second;
          const auto column_mates = v.in_column(to_string(v.at(w).column));
          if (v.count(column_mates, name) == 1)
            add(out, {name, first ? "first" : "last"}, to_string(v.at(w).column));
        }
      }
      break;
    case 31: {  // What is the <TH> instrument that comes in?
      // Everything heard comes in, on screen or off.
      const auto order = v.onset_order(v.sounding());
      for (std::size_t k = 0; k < order.size() && k < 5; ++k) {
        if (order.size() >= 2 && v.entry_apart(order, k))
          add(out, {kOrdinals[k]}, v.at(order[k].second).name);
      }
      break;
    }
    case 32: {  // Which instrument makes sounds <BA> the <Object>?
      const auto order = v.onset_order(v.sounding());
      for (std::size_t k = 0; k < order.size(); ++k) {
        const std::string& name = v.at(order[k].second).name;
        if (!v.unique(v.all(), name) || !v.entry_apart(order, k)) continue;
        if (k > 0 && v.entry_apart(order, k - 1) && v.at(order[k - 1].second).name != name) {
          add(out, {"before", name}, v.at(order[k - 1].second).name);
        }
        if (k + 1 < order.size() && v.entry_apart(order, k + 1) &&
            v.at(order[k + 1].second).name != name) {
          add(out, {"after", name}, v.at(order[k + 1].second).name);
        }
      }
      break;
    }
    default:
      break;
  }
  return out;
}

}  // namespace

const std::vector<QuestionTemplate>& question_templates() {
  return kTemplates;
}

std::string count_answer(std::size_t count) {
  static const char* const kWords[] = {"zero", "one",   "two",   "three", "four", "five",
                                       "six",  "seven", "eight", "nine",  "ten"};
  return count <= 10 ? kWords[count] : "more than ten";
}

std::vector<QuestionCandidate> question_candidates(const QuestionTemplate& tmpl,
                                                   const SceneTruth& truth,
                                                   const std::vector<std::string>& other_classes,
                                                   const AnswerMargins& margins) {
  if (!tmpl.unsupported_reason.empty()) return {};
  const SceneView view(truth, margins);
  return generate(tmpl.id, view, other_classes);
}

}  // namespace avqa::synthetic
