#pragma once

#include <ATen/core/Tensor.h>

namespace avqa::net {

/// What audio-guided spatial grounding computes for N segments.
struct SpatialGrounding {
  at::Tensor attention;  ///< [N, HW]: p = softmax over patches of cos(audio, patch)
  at::Tensor attended;   ///< [N, C]: sum_i p_i V_i / |V_i|, a weighted sum of normalised patches
  at::Tensor pooled;     ///< [N, C]: the spatial mean of the raw map
};

/// ST-AVQA's spatial grounding (st-avqa.md section 2, step 3) in two passes over each segment's
/// map, which stays in cache between them: the first accumulates the patch norms and the dot
/// products with the audio, the second the weighted and plain sums. The reference normalises
/// every patch into a new tensor first (40 % of the original's training step); written as tensor
/// operations the same arithmetic still read the maps four times and wrote and re-read three
/// map-sized temporaries.
///
/// maps [N, C, HW] float32 (raw ResNet maps, patches along the last axis), audio_unit [N, C]
/// (the L2-normalised audio embeddings). Differentiable with respect to audio_unit, through a
/// backward pass of the same two-pass shape (first order: that backward is not itself
/// differentiable; a method that needs second derivatives uses ground_segments_composite); maps
/// that require a gradient (an attack on the visual input) take the composition of tensor
/// operations, which autograd differentiates in both arguments.
SpatialGrounding ground_segments(const at::Tensor& maps, const at::Tensor& audio_unit);

/// The same result written as tensor operations (the path for maps that require gradients, and
/// the reference the fused passes are tested against).
SpatialGrounding ground_segments_composite(const at::Tensor& maps, const at::Tensor& audio_unit);

}  // namespace avqa::net
