#pragma once

#include <string>

namespace avqa::runtime {

/// How LibTorch should use the machine. Every command that runs tensors applies one of these
/// first, because LibTorch's own default (physical cores) is 1 on a 2-vCPU VM.
struct RuntimeOptions {
  int threads = 0;  ///< intra-op threads; 0 = all online CPUs
};

/// Which BLAS library serves LibTorch's matrix products in this process.
struct BlasLibrary {
  enum class Kind {
    OpenBlasPthread,
    OpenBlasOpenMP,
    OpenBlas,
    Blis,
    Atlas,
    Mkl,
    Reference,
    Unknown
  };
  Kind kind = Kind::Unknown;
  std::string path;    ///< resolved file of the loaded library providing sgemm_
  std::string config;  ///< the library's own build description, when it offers one
};

/// Environment facts worth printing next to any benchmark figure.
struct RuntimeInfo {
  std::string torch_version;
  int threads = 0;  ///< torch::get_num_threads() after configuration
  int online_cpus = 0;
  BlasLibrary blas;
};

/// Applies `options` to LibTorch and returns the effective thread count.
int configure_torch(const RuntimeOptions& options);

/// Finds the BLAS library that LibTorch's GEMMs call, after making sure one was loaded.
/// Debian's reference BLAS (`libblas3`) is 4-28x slower than OpenBLAS for this project's
/// workloads, so callers warn on `Kind::Reference`.
BlasLibrary loaded_blas_library();

const char* to_string(BlasLibrary::Kind kind);

RuntimeInfo describe_runtime();

/// A float32 matrix product [batch,] [m, k] x [k, n]; batch 0 means a plain 2-D product.
struct MatmulShape {
  int batch = 0;
  int m = 1024;
  int k = 1024;
  int n = 1024;
};

struct MatmulTiming {
  double median_ms = 0;
  double gflops = 0;
};

/// Median time and GFLOP/s of `shape` over `repeats` timed runs after one warm-up.
MatmulTiming measure_matmul(const MatmulShape& shape, int repeats);

/// Median GFLOP/s of float32 [n, n] x [n, n] products.
double measure_gemm_gflops(int n, int repeats);

}  // namespace avqa::runtime
