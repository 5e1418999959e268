#include "avqa/few_rows_linear.h"

#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <immintrin.h>
#include <string>

#include <ATen/Parallel.h>
#include <torch/torch.h>

namespace avqa::net {

namespace {

// out[r, n] = bias[n] + dot(x[r, :], w[n, :]) for every r < rows: x [rows, k], w [n_total, k],
// out [rows, n_total], all row-major and contiguous; bias may be null.
struct AffineRows {
  const float* x;
  std::int64_t rows;
  std::int64_t k;
  const float* w;
  const float* bias;
  std::int64_t n_total;
  float* out;
};

// The outputs n in [n_begin, n_end) of `p`. Portable version: the compiler vectorises the inner
// loop as far as the baseline instruction set goes.
void few_rows_baseline(const AffineRows& p, std::int64_t n_begin, std::int64_t n_end) {
  const std::int64_t rows = p.rows, k = p.k, n_total = p.n_total;
  for (std::int64_t n = n_begin; n < n_end; ++n) {
    const float* wn = p.w + n * k;
    for (std::int64_t r = 0; r < rows; ++r) {
      const float* xr = p.x + r * k;
      float s = 0;
      for (std::int64_t i = 0; i < k; ++i)
        s += wn[i] * xr[i];
      p.out[r * n_total + n] = s + (p.bias != nullptr ? p.bias[n] : 0.f);
    }
  }
}

__attribute__((target("avx2,fma"))) inline float sum_lanes(__m256 v) {
  const __m128 quad = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  const __m128 pair = _mm_add_ps(quad, _mm_movehl_ps(quad, quad));
  return _mm_cvtss_f32(_mm_add_ss(pair, _mm_shuffle_ps(pair, pair, 1)));
}

// AVX2 + FMA. Each output has one accumulator over k in steps of 8, then the lanes, the k % 8
// tail and the bias, in that order, in every path below: that is what keeps a row's result
// independent of its neighbours. Blocks of four weight rows times three input rows keep twelve
// accumulators in registers, seven loads per twelve multiply-adds (two by four, eight per six,
// was load-bound: 20 rows through 1024 -> 512 in 269 us against 191 us); the rows left over and
// single-row calls read four weight rows per input load, four independent streams from the
// cache (two gave 55 us against 41 us for the LSTM's 2048 x 512 step).
__attribute__((target("avx2,fma"))) void few_rows_avx2(const AffineRows& p,
                                                       std::int64_t n_begin,
                                                       std::int64_t n_end) {
  const float* x = p.x;
  const std::int64_t rows = p.rows, k = p.k, n_total = p.n_total;
  const std::int64_t kv = k / 8 * 8;
  const auto finish = [&](std::int64_t r, std::int64_t n, __m256 sum) {
    const float* wn = p.w + n * k;
    const float* xr = x + r * k;
    float s = sum_lanes(sum);
    for (std::int64_t i = kv; i < k; ++i)
      s += wn[i] * xr[i];
    p.out[r * n_total + n] = s + (p.bias != nullptr ? p.bias[n] : 0.f);
  };
  std::int64_t n = n_begin;
  for (; n + 4 <= n_end; n += 4) {
    const float* w0 = p.w + n * k;
    const float* w1 = w0 + k;
    const float* w2 = w1 + k;
    const float* w3 = w2 + k;
    std::int64_t r = 0;
    for (; r + 3 <= rows; r += 3) {
      const float* x0 = x + r * k;
      const float* x1 = x0 + k;
      const float* x2 = x1 + k;
      __m256 a00 = _mm256_setzero_ps(), a01 = a00, a02 = a00;
      __m256 a10 = a00, a11 = a00, a12 = a00;
      __m256 a20 = a00, a21 = a00, a22 = a00;
      __m256 a30 = a00, a31 = a00, a32 = a00;
      for (std::int64_t i = 0; i < kv; i += 8) {
        const __m256 p0 = _mm256_loadu_ps(x0 + i);
        const __m256 p1 = _mm256_loadu_ps(x1 + i);
        const __m256 p2 = _mm256_loadu_ps(x2 + i);
        __m256 u = _mm256_loadu_ps(w0 + i);
        a00 = _mm256_fmadd_ps(u, p0, a00);
        a01 = _mm256_fmadd_ps(u, p1, a01);
        a02 = _mm256_fmadd_ps(u, p2, a02);
        u = _mm256_loadu_ps(w1 + i);
        a10 = _mm256_fmadd_ps(u, p0, a10);
        a11 = _mm256_fmadd_ps(u, p1, a11);
        a12 = _mm256_fmadd_ps(u, p2, a12);
        u = _mm256_loadu_ps(w2 + i);
        a20 = _mm256_fmadd_ps(u, p0, a20);
        a21 = _mm256_fmadd_ps(u, p1, a21);
        a22 = _mm256_fmadd_ps(u, p2, a22);
        u = _mm256_loadu_ps(w3 + i);
        a30 = _mm256_fmadd_ps(u, p0, a30);
        a31 = _mm256_fmadd_ps(u, p1, a31);
        a32 = _mm256_fmadd_ps(u, p2, a32);
      }
      finish(r, n, a00), finish(r + 1, n, a01), finish(r + 2, n, a02);
      finish(r, n + 1, a10), finish(r + 1, n + 1, a11), finish(r + 2, n + 1, a12);
      finish(r, n + 2, a20), finish(r + 1, n + 2, a21), finish(r + 2, n + 2, a22);
      finish(r, n + 3, a30), finish(r + 1, n + 3, a31), finish(r + 2, n + 3, a32);
    }
    for (; r < rows; ++r) {
      const float* xr = x + r * k;
      __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
      for (std::int64_t i = 0; i < kv; i += 8) {
        const __m256 row = _mm256_loadu_ps(xr + i);
        a0 = _mm256_fmadd_ps(_mm256_loadu_ps(w0 + i), row, a0);
        a1 = _mm256_fmadd_ps(_mm256_loadu_ps(w1 + i), row, a1);
        a2 = _mm256_fmadd_ps(_mm256_loadu_ps(w2 + i), row, a2);
        a3 = _mm256_fmadd_ps(_mm256_loadu_ps(w3 + i), row, a3);
      }
      finish(r, n, a0), finish(r, n + 1, a1), finish(r, n + 2, a2), finish(r, n + 3, a3);
    }
  }
  for (; n < n_end; ++n) {  // the last one to three weight rows
    const float* wn = p.w + n * k;
    for (std::int64_t r = 0; r < rows; ++r) {
      const float* xr = x + r * k;
      __m256 a = _mm256_setzero_ps();
      for (std::int64_t i = 0; i < kv; i += 8)
        a = _mm256_fmadd_ps(_mm256_loadu_ps(wn + i), _mm256_loadu_ps(xr + i), a);
      finish(r, n, a);
    }
  }
}

// GCC 12's AVX-512 headers initialise their "undefined" operands with themselves, which
// -Wuninitialized reports at every use.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
__attribute__((target("avx512f"))) float sum_lanes16(__m512 v) {
  return _mm512_reduce_add_ps(v);
}
#pragma GCC diagnostic pop

// AVX-512 where k is a multiple of 16 (every width of the network): the AVX2 kernel's blocking
// with 16 lanes and twice the registers, four weight rows times six input rows (24 accumulators,
// ten loads per 24 multiply-adds). One accumulator per output over k, then the lanes and the
// bias, in every path.
__attribute__((target("avx512f"))) void few_rows_avx512(const AffineRows& p,
                                                        std::int64_t n_begin,
                                                        std::int64_t n_end) {
  const float* x = p.x;
  const std::int64_t rows = p.rows, k = p.k, n_total = p.n_total;
  const auto finish = [&](std::int64_t r, std::int64_t n, __m512 sum) {
    p.out[r * n_total + n] = sum_lanes16(sum) + (p.bias != nullptr ? p.bias[n] : 0.f);
  };
  std::int64_t n = n_begin;
  for (; n + 4 <= n_end; n += 4) {
    const float* w0 = p.w + n * k;
    const float* w1 = w0 + k;
    const float* w2 = w1 + k;
    const float* w3 = w2 + k;
    std::int64_t r = 0;
    for (; r + 6 <= rows; r += 6) {
      const float* xr = x + r * k;
      __m512 acc[4][6];
      for (int q = 0; q < 4; ++q)
        for (int j = 0; j < 6; ++j)
          acc[q][j] = _mm512_setzero_ps();
      for (std::int64_t i = 0; i < k; i += 16) {
        __m512 in[6];
        for (int j = 0; j < 6; ++j)
          in[j] = _mm512_loadu_ps(xr + j * k + i);
        const __m512 u0 = _mm512_loadu_ps(w0 + i);
        for (int j = 0; j < 6; ++j)
          acc[0][j] = _mm512_fmadd_ps(u0, in[j], acc[0][j]);
        const __m512 u1 = _mm512_loadu_ps(w1 + i);
        for (int j = 0; j < 6; ++j)
          acc[1][j] = _mm512_fmadd_ps(u1, in[j], acc[1][j]);
        const __m512 u2 = _mm512_loadu_ps(w2 + i);
        for (int j = 0; j < 6; ++j)
          acc[2][j] = _mm512_fmadd_ps(u2, in[j], acc[2][j]);
        const __m512 u3 = _mm512_loadu_ps(w3 + i);
        for (int j = 0; j < 6; ++j)
          acc[3][j] = _mm512_fmadd_ps(u3, in[j], acc[3][j]);
      }
      for (int q = 0; q < 4; ++q)
        for (int j = 0; j < 6; ++j)
          finish(r + j, n + q, acc[q][j]);
    }
    for (; r < rows; ++r) {
      const float* xr = x + r * k;
      __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
      for (std::int64_t i = 0; i < k; i += 16) {
        const __m512 row = _mm512_loadu_ps(xr + i);
        a0 = _mm512_fmadd_ps(_mm512_loadu_ps(w0 + i), row, a0);
        a1 = _mm512_fmadd_ps(_mm512_loadu_ps(w1 + i), row, a1);
        a2 = _mm512_fmadd_ps(_mm512_loadu_ps(w2 + i), row, a2);
        a3 = _mm512_fmadd_ps(_mm512_loadu_ps(w3 + i), row, a3);
      }
      finish(r, n, a0), finish(r, n + 1, a1), finish(r, n + 2, a2), finish(r, n + 3, a3);
    }
  }
  for (; n < n_end; ++n) {  // the last one to three weight rows
    const float* wn = p.w + n * k;
    for (std::int64_t r = 0; r < rows; ++r) {
      const float* xr = x + r * k;
      __m512 a = _mm512_setzero_ps();
      for (std::int64_t i = 0; i < k; i += 16)
        a = _mm512_fmadd_ps(_mm512_loadu_ps(wn + i), _mm512_loadu_ps(xr + i), a);
      finish(r, n, a);
    }
  }
}

// Chosen by what the CPU supports (GCC's target_clones "arch=" variants dispatch by CPU model
// and gave an AMD EPYC the baseline: batch-1 answer 4.3 -> 10 ms).
// AVQA_KERNELS=avx2|portable rules the faster kernels out for a whole process (a result that
// looks off, a side-by-side timing); use_kernels() overrides it.
Kernel kernel_from_environment() {
  const char* v = std::getenv("AVQA_KERNELS");
  const std::string name = v != nullptr ? v : "";
  if (name == "avx2") return Kernel::Avx2;
  if (name == "portable") return Kernel::Portable;
  return Kernel::Fastest;
}

std::atomic<Kernel> kernel_choice{kernel_from_environment()};

void few_rows(const AffineRows& p) {
  static const bool avx2_fma = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  static const bool avx512 = __builtin_cpu_supports("avx512f");
  const Kernel choice = kernel_choice.load(std::memory_order_relaxed);
  const auto kernel = choice == Kernel::Portable || !avx2_fma                ? few_rows_baseline
                      : choice == Kernel::Fastest && avx512 && p.k % 16 == 0 ? few_rows_avx512
                                                                             : few_rows_avx2;
  // Split the outputs between threads in blocks of at least 64 weight rows.
  at::parallel_for(0, p.n_total, 64,
                   [&](std::int64_t begin, std::int64_t end) { kernel(p, begin, end); });
}

}  // namespace

torch::Tensor few_rows_linear(const torch::Tensor& x,
                              const torch::Tensor& weight,
                              const torch::Tensor& bias) {
  TORCH_CHECK(x.dim() == 2 && weight.dim() == 2 && x.size(1) == weight.size(1),
              "few_rows_linear: x [rows, in] and weight [out, in], got ", x.sizes(), " and ",
              weight.sizes());
  TORCH_CHECK(x.scalar_type() == torch::kFloat32 && weight.scalar_type() == torch::kFloat32 &&
                  x.device().is_cpu() && weight.device().is_cpu(),
              "few_rows_linear: float32 tensors on the CPU only");
  TORCH_CHECK(!bias.defined() || (bias.dim() == 1 && bias.size(0) == weight.size(0) &&
                                  bias.scalar_type() == torch::kFloat32),
              "few_rows_linear: bias must be [", weight.size(0), "] float32, got ",
              bias.defined() ? bias.sizes() : torch::IntArrayRef{});
  const auto xc = x.contiguous();
  const auto wc = weight.contiguous();
  const auto bc = bias.defined() ? bias.contiguous() : torch::Tensor();
  auto out = torch::empty({xc.size(0), wc.size(0)}, xc.options());
  few_rows({xc.data_ptr<float>(), xc.size(0), wc.size(1), wc.data_ptr<float>(),
            bc.defined() ? bc.data_ptr<float>() : nullptr, wc.size(0), out.data_ptr<float>()});
  return out;
}

void matrix_vector(
    const float* x, std::int64_t k, const float* w, const float* bias, std::int64_t n, float* out) {
  few_rows({x, 1, k, w, bias, n, out});
}

void use_kernels(Kernel kernel) {
  kernel_choice.store(kernel);
}

}  // namespace avqa::net
