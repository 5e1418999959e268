#include "datasets/synthetic/scene.h"

#include <algorithm>
#include <cmath>

#include "datasets/synthetic/speech_synth.h"

namespace avqa::synthetic {
namespace {

constexpr int kPentatonic[] = {0, 2, 4, 7, 9};  // scale steps for melodies

std::array<unsigned char, 3> jitter_color(Rng& rng, std::array<int, 3> base, int spread) {
  std::array<unsigned char, 3> out{};
  for (std::size_t c = 0; c < 3; ++c)
    out[c] = static_cast<unsigned char>(std::clamp(base[c] + rng.integer(-spread, spread), 0, 255));
  return out;
}

std::vector<std::array<int, 2>> sample_intervals(Rng& rng, int seconds) {
  if (seconds <= 3 || rng.chance(0.25)) return {{0, seconds}};
  if (seconds >= 7 && rng.chance(0.3)) {  // two passages with a rest between them
    const int a0 = rng.integer(0, seconds - 6);
    const int a1 = rng.integer(a0 + 1, std::min(a0 + 3, seconds - 4));
    const int b0 = rng.integer(a1 + 2, seconds - 2);
    const int b1 = rng.integer(b0 + 1, seconds);
    return {{a0, a1}, {b0, b1}};
  }
  const int start = rng.integer(0, seconds - 2);
  const int end = rng.integer(start + 2, seconds);
  return {{start, end}};
}

std::vector<NoteEvent> sample_notes(Rng& rng,
                                    const InstrumentSpec& spec,
                                    const std::vector<std::array<int, 2>>& intervals) {
  // A part is dense (many short notes, audible gaps) or smooth (long notes), so instruments
  // differ in onset rate: the measured basis of "more rhythmic".
  const bool dense = rng.chance(0.5);
  // Plucked, struck and percussive notes decay, so they repeat often enough to keep sounding
  // through the interval; sustained notes can be long.
  double step = 0;
  switch (spec.percussion() ? Articulation::Percussive : spec.articulation) {
    case Articulation::Sustained:
      step = dense ? rng.uniform(0.18, 0.28) : rng.uniform(0.7, 1.1);
      break;
    case Articulation::Percussive:
      step = dense ? rng.uniform(0.14, 0.2) : rng.uniform(0.3, 0.42);
      break;
    case Articulation::Plucked:
    case Articulation::Struck:
      step = dense ? rng.uniform(0.15, 0.22) : rng.uniform(0.35, 0.5);
      break;
  }
  const double duty = dense ? 0.55 : 0.9;
  const int root = spec.percussion() ? 0
                                     : rng.integer(spec.pitch_low,
                                                   std::max(spec.pitch_low, spec.pitch_high - 12));
  int degree = 0;
  std::vector<NoteEvent> notes;
  for (const auto& [start, end] : intervals) {
    // Leave room for the release before the interval ends, so sound stays inside it.
    const double stop = end - 0.3;
    for (double t = start + 0.02; t + 0.5 * step <= stop; t += step) {
      NoteEvent note;
      note.start = t;
      note.duration = std::min(step * duty, stop - t);
      note.velocity = rng.integer(85, 115);
      if (spec.percussion()) {
        note.key = rng.pick(spec.keys);
      } else {
        degree = std::clamp(degree + rng.integer(-2, 2), 0, 9);
        note.key = std::min(spec.pitch_high, root + 12 * (degree / 5) + kPentatonic[degree % 5]);
      }
      notes.push_back(note);
    }
  }
  return notes;
}

}  // namespace

const char* to_string(Column column) {
  switch (column) {
    case Column::Left:
      return "left";
    case Column::Middle:
      return "middle";
    case Column::Right:
      return "right";
  }
  return "?";
}

Scene sample_scene(const InstrumentTable& table, const SceneParams& params, Rng& rng) {
  Scene scene;
  scene.outdoor = rng.chance(params.outdoor_rate);
  if (scene.outdoor) {
    scene.backdrop = jitter_color(rng, {120, 180, 235}, 25);  // sky
    scene.floor = jitter_color(rng, {70, 150, 60}, 25);       // grass
  } else {
    const bool curtain = rng.chance(0.5);
    scene.backdrop =
        curtain ? jitter_color(rng, {130, 25, 35}, 25) : jitter_color(rng, {215, 200, 170}, 25);
    scene.floor = jitter_color(rng, {120, 80, 45}, 20);  // wooden stage
  }
  if (params.shared_backgrounds > 0) {
    // One of a few fixed sets of its kind (stage or outdoors), the same in every clip that
    // draws it: the background then says nothing about which clip a sound belongs to. Drawn
    // from their own generator, so the rest of the scene is what it would have been.
    const auto k = static_cast<std::uint64_t>(rng.integer(0, params.shared_backgrounds - 1));
    Rng set(derive_seed(scene.outdoor ? 0x0d7d : 0x57a9, k));
    const bool curtain = set.chance(0.5);
    scene.backdrop = scene.outdoor ? jitter_color(set, {120, 180, 235}, 25)
                     : curtain     ? jitter_color(set, {130, 25, 35}, 25)
                                   : jitter_color(set, {215, 200, 170}, 25);
    scene.floor =
        scene.outdoor ? jitter_color(set, {70, 150, 60}, 25) : jitter_color(set, {120, 80, 45}, 20);
  }

  const int W = params.width;
  const int H = params.height;
  // Most scenes are a few players; an ensemble fills the stage with up to three rows, so counts
  // reach past four as the real data's do.
  const bool ensemble = params.ensemble_rate > 0 && rng.chance(params.ensemble_rate);
  const int visible = ensemble ? rng.integer(5, params.ensemble_max)
                               : rng.integer(params.min_instruments, params.max_instruments);

  // Classes: distinct, except an optional second instance of the first class.
  std::vector<std::size_t> classes(table.size());
  for (std::size_t i = 0; i < classes.size(); ++i)
    classes[i] = i;
  rng.shuffle(classes);
  std::vector<std::size_t> chosen(classes.begin(), classes.begin() + visible);
  if (visible >= 2 && rng.chance(params.duplicate_rate)) chosen[1] = chosen[0];

  // Columns: two slots per column (three in a large ensemble); spread out first, sometimes
  // shared.
  const int rows = visible > 6 ? 3 : 2;
  std::vector<Column> slots;
  for (int r = 0; r < rows; ++r) {
    std::vector<Column> round = {Column::Left, Column::Middle, Column::Right};
    rng.shuffle(round);
    slots.insert(slots.end(), round.begin(), round.end());
  }
  if (rng.chance(0.3)) rng.shuffle(slots);
  slots.resize(static_cast<std::size_t>(visible));

  const double third = W / 3.0;
  const double margin = W / 12.0;
  for (int i = 0; i < visible; ++i) {
    PlannedInstrument inst;
    inst.spec = chosen[static_cast<std::size_t>(i)];
    inst.column = slots[static_cast<std::size_t>(i)];
    const int in_column = static_cast<int>(std::count(slots.begin(), slots.end(), inst.column));
    const int rank = static_cast<int>(std::count(slots.begin(), slots.begin() + i, inst.column));
    const double size = W * (in_column == 1   ? rng.uniform(0.27, 0.33)
                             : in_column == 2 ? rng.uniform(0.22, 0.26)
                                              : rng.uniform(0.18, 0.21));
    const double col0 = third * static_cast<int>(inst.column);
    const double cx = rng.uniform(col0 + margin, col0 + third - margin);
    const double cy = in_column == 1   ? H * rng.uniform(0.5, 0.62)
                      : in_column == 2 ? H * (rank == 0 ? 0.3 : 0.72)
                                       : H * (0.2 + 0.3 * rank);
    inst.box.x0 = std::clamp(static_cast<int>(std::lround(cx - size / 2)), 0, W - 2);
    inst.box.x1 = std::clamp(static_cast<int>(std::lround(cx + size / 2)), inst.box.x0 + 2, W);
    inst.box.y0 = std::clamp(static_cast<int>(std::lround(cy - size / 2)), 0, H - 2);
    inst.box.y1 = std::clamp(static_cast<int>(std::lround(cy + size / 2)), inst.box.y0 + 2, H);
    inst.flip = rng.chance(0.5);
    inst.brightness = rng.uniform(0.85, 1.15);
    scene.instruments.push_back(inst);
  }

  // Off-screen source: heard, never seen, of a class not on screen.
  if (rng.chance(params.offscreen_rate)) {
    std::vector<std::size_t> unseen;
    for (std::size_t c = 0; c < table.size(); ++c) {
      if (std::find(chosen.begin(), chosen.end(), c) == chosen.end()) unseen.push_back(c);
    }
    PlannedInstrument inst;
    inst.spec = rng.pick(unseen);
    inst.visible = false;
    scene.instruments.push_back(inst);
  }

  for (std::size_t i = 0; i < scene.instruments.size(); ++i) {
    PlannedInstrument& inst = scene.instruments[i];
    const bool silent = inst.visible && rng.chance(params.silent_rate);
    if (!silent) {
      inst.intervals = sample_intervals(rng, params.seconds);
      // A duplicate instance sometimes starts together with the first ("simultaneously").
      if (i == 1 && inst.spec == scene.instruments[0].spec &&
          !scene.instruments[0].intervals.empty() && rng.chance(0.4)) {
        const int start = scene.instruments[0].intervals.front()[0];
        inst.intervals = {
            {start, std::min(params.seconds, start + rng.integer(2, params.seconds))}};
      }
      inst.notes = sample_notes(rng, table.at(inst.spec), inst.intervals);
      if (inst.notes.empty()) inst.intervals.clear();
    }
    inst.gain_db =
        std::array<double, 3>{-3.0, -9.0, -15.0}[static_cast<std::size_t>(rng.integer(0, 2))] +
        rng.uniform(-1.0, 1.0);
    inst.motion_phase = rng.uniform(0.0, 2.0 * M_PI);
  }
  // Every clip has something to hear (the real data has no silent video): when every visible
  // instrument drew silence and none plays off screen, the first one plays after all.
  const bool heard = std::any_of(scene.instruments.begin(), scene.instruments.end(),
                                 [](const PlannedInstrument& i) { return !i.notes.empty(); });
  if (!heard && !scene.instruments.empty()) {
    PlannedInstrument& inst = scene.instruments.front();
    inst.intervals = sample_intervals(rng, params.seconds);
    inst.notes = sample_notes(rng, table.at(inst.spec), inst.intervals);
  }

  const int shapes = static_cast<int>(std::lround(params.clutter * 8));
  for (int k = 0; k < shapes; ++k) {
    ClutterShape shape;
    shape.circle = rng.chance(0.5);
    const int s = rng.integer(W / 20, W / 7);
    shape.box.x0 = rng.integer(0, W - s);
    shape.box.y0 = rng.integer(0, H - s);
    shape.box.x1 = shape.box.x0 + s;
    shape.box.y1 = shape.box.y0 + s;
    shape.rgb = jitter_color(rng, {128, 128, 128}, 127);
    shape.alpha = rng.uniform(0.4, 0.9);
    scene.clutter.push_back(shape);
  }
  const int occluders = static_cast<int>(std::lround(params.clutter * 3));
  for (int k = 0; k < occluders && visible > 0; ++k) {
    const Box& target =
        scene.instruments[static_cast<std::size_t>(rng.integer(0, visible - 1))].box;
    ClutterShape shape;
    shape.occluder = true;
    shape.circle = rng.chance(0.5);
    const int s = std::max(2, static_cast<int>(target.width() * rng.uniform(0.2, 0.35)));
    shape.box.x0 = rng.integer(target.x0, std::max(target.x0, target.x1 - s));
    shape.box.y0 = rng.integer(target.y0, std::max(target.y0, target.y1 - s));
    shape.box.x1 = shape.box.x0 + s;
    shape.box.y1 = shape.box.y0 + s;
    shape.rgb = jitter_color(rng, {128, 128, 128}, 127);
    shape.alpha = rng.uniform(0.6, 0.9);
    scene.clutter.push_back(shape);
  }

  if (params.voiceover_rate > 0 && rng.chance(params.voiceover_rate)) {
    VoiceoverPlan voice;
    voice.line =
        static_cast<std::size_t>(rng.integer(0, static_cast<int>(voiceover_lines().size()) - 1));
    // A line lasts about two seconds: it starts where it can finish inside the clip.
    voice.start = rng.uniform(0.0, std::max(0.0, params.seconds - 2.6));
    voice.gain_db = rng.uniform(-8.0, -4.0);
    scene.voiceover = voice;
  }

  scene.snr_db = params.snr_db;
  if (params.imbalance > 0 && rng.chance(params.imbalance)) scene.motion_suppressed = true;
  if (params.imbalance < 0 && rng.chance(-params.imbalance)) scene.snr_db = params.imbalance_snr_db;
  return scene;
}

ClassificationScene sample_classification_scene(const InstrumentTable& table,
                                                const SceneParams& params,
                                                int classes,
                                                Rng& rng) {
  ClassificationScene out;
  out.label = static_cast<std::size_t>(rng.integer(0, classes - 1));
  out.visual_ambiguous = params.imbalance > 0 && rng.chance(params.imbalance);
  out.audio_ambiguous = params.imbalance < 0 && rng.chance(-params.imbalance);
  if (params.ambiguous_audio > 0 && !out.visual_ambiguous) {
    // Of the clips left visually clear, the share that makes ambiguous_audio of all clips.
    const double visual_share = std::max(0.0, params.imbalance);
    out.audio_ambiguous =
        out.audio_ambiguous ||
        rng.chance(std::min(1.0, params.ambiguous_audio / std::max(1e-9, 1 - visual_share)));
  }
  SceneParams p = params;
  p.imbalance = 0;  // applied below, to the whole clip's roles
  p.offscreen_rate = 0;
  p.duplicate_rate = 0;
  p.silent_rate = 0;
  p.ensemble_rate = 0;
  p.voiceover_rate = 0;
  p.min_instruments = p.max_instruments = out.visual_ambiguous ? rng.integer(2, 3) : 1;
  out.scene = sample_scene(table, p, rng);
  Scene& scene = out.scene;
  // The first instrument becomes the label and sounds throughout; the others are distractors of
  // other classes that stay silent.
  std::vector<std::size_t> others;
  for (std::size_t c = 0; c < table.size(); ++c) {
    if (c != out.label) others.push_back(c);
  }
  rng.shuffle(others);
  for (std::size_t i = 0; i < scene.instruments.size(); ++i) {
    PlannedInstrument& inst = scene.instruments[i];
    if (i == 0) {
      inst.spec = out.label;
      inst.intervals = {{0, params.seconds}};
      inst.notes = sample_notes(rng, table.at(inst.spec), inst.intervals);
      inst.gain_db = -3.0 + rng.uniform(-1.0, 1.0);
    } else {
      inst.spec = others.at(i - 1);
      inst.intervals.clear();
      inst.notes.clear();
    }
  }
  // The sounding instrument is not always first on screen: its place among the distractors is
  // drawn, so position does not give the label away.
  if (scene.instruments.size() > 1) {
    const auto k =
        static_cast<std::size_t>(rng.integer(0, static_cast<int>(scene.instruments.size()) - 1));
    std::swap(scene.instruments[0].spec, scene.instruments[k].spec);
    std::swap(scene.instruments[0].intervals, scene.instruments[k].intervals);
    std::swap(scene.instruments[0].notes, scene.instruments[k].notes);
    std::swap(scene.instruments[0].gain_db, scene.instruments[k].gain_db);
  }
  scene.motion_suppressed = out.visual_ambiguous;
  if (out.audio_ambiguous) scene.snr_db = params.imbalance_snr_db;
  return out;
}

}  // namespace avqa::synthetic
