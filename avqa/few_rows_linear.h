#pragma once

#include <cstdint>

#include <torch/types.h>

// Linear layers on a few rows (batch-1 answering: 1, 10 or 20 rows). OpenBLAS's GEMM repacks the
// whole weight matrix on every call and one GEMV per row re-reads it once per row; these kernels
// read each weight once for all rows. Every output is summed in the same order whatever the row
// count, so a row's result does not depend on which rows come with it.
namespace avqa::net {

/// The most rows few_rows_linear is meant for; beyond it a GEMM is faster.
constexpr std::int64_t kFewRows = 32;

/// x [rows, in] -> [rows, out] = x weight^T + bias, with weight [out, in] and bias [out] or
/// undefined; float32 on the CPU, any row count (fast for rows <= kFewRows). Split over torch's
/// threads by output.
torch::Tensor few_rows_linear(const torch::Tensor& x,
                              const torch::Tensor& weight,
                              const torch::Tensor& bias);

/// out [n] = bias [n] + w [n, k] x [k] on contiguous float32 arrays (bias may be null), split over
/// torch's threads: the LSTM step, which has no tensors to spare.
void matrix_vector(
    const float* x, std::int64_t k, const float* w, const float* bias, std::int64_t n, float* out);

/// Which kernels run: the fastest the CPU has (AVX-512 where present and the width is a multiple
/// of 16, else AVX2 + FMA, else portable code), at most AVX2, or the portable code (tests compare
/// them; a user can rule them out when a result looks off, also with AVQA_KERNELS=avx2|portable).
enum class Kernel { Fastest, Avx2, Portable };
void use_kernels(Kernel kernel);

}  // namespace avqa::net
