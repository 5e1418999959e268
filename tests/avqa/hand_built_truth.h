#pragma once

// Generated-clip truth built by hand for tests: a few instruments with fixed boxes and chosen
// sounding seconds, written in the generator's own format (synthetic::to_json).
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "core/atomic_file.h"
#include "datasets/synthetic/truth.h"

namespace avqa::testing {

/// An instrument on screen at `box` every second, sounding in the seconds `sounding` marks.
inline synthetic::InstrumentTruth visible_instrument(std::string name,
                                                     synthetic::Box box,
                                                     std::vector<bool> sounding) {
  synthetic::InstrumentTruth inst;
  inst.name = std::move(name);
  inst.box = box;
  inst.boxes_per_second.assign(sounding.size(), box);
  inst.sounding_per_second = std::move(sounding);
  return inst;
}

/// An instrument heard but not seen.
inline synthetic::InstrumentTruth offscreen_instrument(std::string name,
                                                       std::vector<bool> sounding) {
  synthetic::InstrumentTruth inst;
  inst.name = std::move(name);
  inst.visible = false;
  inst.sounding_per_second = std::move(sounding);
  return inst;
}

/// A width x height clip as long as its first instrument's seconds.
inline synthetic::SceneTruth scene(std::string video_id,
                                   int width,
                                   int height,
                                   std::vector<synthetic::InstrumentTruth> instruments) {
  synthetic::SceneTruth t;
  t.video_id = std::move(video_id);
  t.width = width;
  t.height = height;
  t.seconds =
      instruments.empty() ? 0 : static_cast<int>(instruments.front().sounding_per_second.size());
  t.instruments = std::move(instruments);
  return t;
}

/// DIR/<video_id>.json, as `avqa generate` writes it into its truth/ folder.
inline void write_truth(const std::filesystem::path& dir, const synthetic::SceneTruth& truth) {
  core::write_file_atomically(dir / (truth.video_id + ".json"), synthetic::to_json(truth));
}

}  // namespace avqa::testing
