#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "datasets/synthetic/instrument_table.h"
#include "datasets/synthetic/scene.h"

namespace avqa::synthetic {

/// Draws the frames of one scene: a pre-rendered background (stage or outdoors, clutter),
/// the instrument sprites, occluders, optional blur. Instruments that sound at time t move
/// (bob and jitter); silent ones stand still. Deterministic for a given scene.
class FrameRenderer {
 public:
  FrameRenderer(const InstrumentTable& table, const Scene& scene, const SceneParams& params);
  ~FrameRenderer();
  FrameRenderer(const FrameRenderer&) = delete;
  FrameRenderer& operator=(const FrameRenderer&) = delete;

  /// Draws the frame at `seconds` into `rgb` ([height, width, 3], resized as needed);
  /// `sounding[i]` says whether scene instrument i sounds at that moment.
  void render(double seconds,
              const std::vector<bool>& sounding,
              std::vector<std::uint8_t>& rgb) const;

  /// Where instrument i is drawn at `seconds`, motion included.
  Box box_at(std::size_t instrument, double seconds, bool sounding) const;
  /// How far instrument i is tilted at `seconds`, degrees (0 unless it sounds and
  /// SceneParams::playing_tilt is set).
  double tilt_at(std::size_t instrument, double seconds, bool sounding) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace avqa::synthetic
