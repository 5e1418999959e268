#pragma once

#include <ATen/core/Tensor.h>

// Losses that teach ST-AVQA's spatial attention where the sound is, besides the original's match
// loss (which the fusion can satisfy from the pooled map alone, without looking anywhere).
namespace avqa::net {

/// What a training step adds to the answer's cross-entropy. The defaults are the original's.
struct GroundingLossWeights {
  double match = 0.5;  ///< the audio-visual match head's cross-entropy (st-avqa.md section 5)
  /// The localization ranking: a segment's audio must fit some patch of its own frame better than
  /// any patch of the negative frame (localization_loss).
  double localization = 0;
  /// The same ranking against every other video of the batch (batch_localization_loss).
  double batch_localization = 0;
  /// A diagnostic on generated data only: the attention pulled towards the truth boxes of the
  /// instruments that sound (attention_supervision_loss). An upper bound of what the features
  /// allow, never a method.
  double supervision = 0;
};

/// Multiple-instance ranking of frames by their best-fitting patch: mean over segments of
/// softplus((negative - positive) / temperature), where positive and negative [N] are the
/// attention-weighted cosines of each segment's audio with its own frame and with another frame
/// (StAvqaOutput::localization_*). Background patches appear with any sound, so the only way to
/// rank the own frame first is to look at what the sound comes from.
at::Tensor localization_loss(const at::Tensor& positive,
                             const at::Tensor& negative,
                             double temperature);

/// The same ranking against every other video of the batch at once (InfoNCE): segment t of item
/// b must fit its own frame better than the frames of segment t of the other items. audio [B, T,
/// C] (the audio embeddings, any scale), maps [B, T, C, HW] (raw visual maps), videos [B] int64
/// (items of one video do not count against each other: their frames are the same). A frame's
/// score is sum_i p_i cos_i with p = softmax(cos / temperature) over its patches; the logits are
/// the scores over the temperature. Zero-weight rows (an item alone with its video in the batch
/// has at least itself) never occur. Maps take no gradient.
at::Tensor batch_localization_loss(const at::Tensor& audio,
                                   const at::Tensor& maps,
                                   const at::Tensor& videos,
                                   double temperature);

/// attention [N, HW] (rows sum to 1) against truth [N, HW] (>= 0: the cells of instruments that
/// sound then; a row of zeros has none and is left out): the mean over the rows with truth of
/// KL(truth / sum(truth) || attention). Zero where the attention equals the normalised truth; zero
/// (and no gradient) when no row has truth.
at::Tensor attention_supervision_loss(const at::Tensor& attention, const at::Tensor& truth);

}  // namespace avqa::net
