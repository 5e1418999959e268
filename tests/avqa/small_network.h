#pragma once

#include "avqa/st_avqa_net.h"

namespace avqa::net::testing {

/// Narrow widths for fast tests: 20 words, 7 answers, 16-d audio, 32 channels, hidden 32.
inline StAvqaOptions small_widths() {
  StAvqaOptions o;
  o.vocab_size = 20;
  o.answers = 7;
  o.audio_dim = 16;
  o.visual_channels = 32;
  o.hidden = 32;
  return o;
}

}  // namespace avqa::net::testing
