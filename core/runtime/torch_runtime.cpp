#include "core/runtime/torch_runtime.h"

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <dlfcn.h>
#include <filesystem>
#include <stdexcept>
#include <unistd.h>
#include <vector>

#include <torch/torch.h>

namespace avqa::runtime {

int configure_torch(const RuntimeOptions& options) {
  if (options.threads < 0) {
    throw std::invalid_argument("threads must be >= 0 (0 = all CPUs), got " +
                                std::to_string(options.threads));
  }
  const long cpus = ::sysconf(_SC_NPROCESSORS_ONLN);
  const int threads = options.threads > 0 ? options.threads : static_cast<int>(std::max(1L, cpus));
  torch::set_num_threads(threads);
  // OpenBLAS's pthread build keeps its own pool (all CPUs) whatever torch is told; without this
  // a "1 thread" process still runs its GEMMs on every core and data-parallel workers collide.
  using SetThreadsFn = void (*)(int);
  if (auto* set_blas_threads =
          reinterpret_cast<SetThreadsFn>(::dlsym(RTLD_DEFAULT, "openblas_set_num_threads"))) {
    set_blas_threads(threads);
  }
  return torch::get_num_threads();
}

const char* to_string(BlasLibrary::Kind kind) {
  switch (kind) {
    case BlasLibrary::Kind::OpenBlasPthread:
      return "OpenBLAS (pthread)";
    case BlasLibrary::Kind::OpenBlasOpenMP:
      return "OpenBLAS (OpenMP)";
    case BlasLibrary::Kind::OpenBlas:
      return "OpenBLAS";
    case BlasLibrary::Kind::Blis:
      return "BLIS";
    case BlasLibrary::Kind::Atlas:
      return "ATLAS";
    case BlasLibrary::Kind::Mkl:
      return "MKL";
    case BlasLibrary::Kind::Reference:
      return "reference BLAS (slow)";
    case BlasLibrary::Kind::Unknown:
      break;
  }
  return "unknown";
}

BlasLibrary loaded_blas_library() {
  {
    // A tiny product makes sure the BLAS library is bound before we ask for its symbol.
    torch::NoGradGuard no_grad;
    const auto a = torch::ones({8, 8});
    (void)torch::mm(a, a).sum().item<float>();
  }
  BlasLibrary blas;
  void* sgemm = ::dlsym(RTLD_DEFAULT, "sgemm_");
  Dl_info info{};
  if (sgemm == nullptr || ::dladdr(sgemm, &info) == 0 || info.dli_fname == nullptr) return blas;

  std::error_code ec;
  const auto resolved = std::filesystem::canonical(info.dli_fname, ec);
  blas.path = ec ? std::string(info.dli_fname) : resolved.string();
  const std::string& p = blas.path;
  auto has = [&p](const char* s) { return p.find(s) != std::string::npos; };
  if (has("openblas-pthread")) {
    blas.kind = BlasLibrary::Kind::OpenBlasPthread;
  } else if (has("openblas-openmp")) {
    blas.kind = BlasLibrary::Kind::OpenBlasOpenMP;
  } else if (has("openblas")) {
    blas.kind = BlasLibrary::Kind::OpenBlas;
  } else if (has("blis")) {
    blas.kind = BlasLibrary::Kind::Blis;
  } else if (has("atlas")) {
    blas.kind = BlasLibrary::Kind::Atlas;
  } else if (has("mkl")) {
    blas.kind = BlasLibrary::Kind::Mkl;
  } else if (has("/blas/libblas.so")) {
    blas.kind = BlasLibrary::Kind::Reference;  // Debian's libblas3 lives in .../blas/
  }
  using ConfigFn = char* (*)();
  if (auto* config = reinterpret_cast<ConfigFn>(::dlsym(RTLD_DEFAULT, "openblas_get_config"))) {
    blas.config = config();
  }
  return blas;
}

RuntimeInfo describe_runtime() {
  RuntimeInfo info;
  info.torch_version = TORCH_VERSION;
  info.threads = torch::get_num_threads();
  info.online_cpus = static_cast<int>(::sysconf(_SC_NPROCESSORS_ONLN));
  info.blas = loaded_blas_library();
  return info;
}

MatmulTiming measure_matmul(const MatmulShape& shape, int repeats) {
  if (shape.batch < 0 || shape.m <= 0 || shape.k <= 0 || shape.n <= 0 || repeats <= 0) {
    throw std::invalid_argument("matrix sizes and repeats must be positive");
  }
  torch::NoGradGuard no_grad;
  torch::manual_seed(0);
  const bool batched = shape.batch > 0;
  const auto a =
      batched ? torch::randn({shape.batch, shape.m, shape.k}) : torch::randn({shape.m, shape.k});
  const auto b =
      batched ? torch::randn({shape.batch, shape.k, shape.n}) : torch::randn({shape.k, shape.n});
  auto c = torch::matmul(a, b);  // warm-up: thread pools, page faults
  std::vector<double> seconds;
  for (int i = 0; i < repeats; ++i) {
    const auto start = std::chrono::steady_clock::now();
    if (batched) {
      torch::bmm_out(c, a, b);
    } else {
      torch::mm_out(c, a, b);
    }
    seconds.push_back(
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  }
  std::nth_element(seconds.begin(), seconds.begin() + repeats / 2, seconds.end());
  const double median = seconds[static_cast<std::size_t>(repeats / 2)];
  const double flops =
      2.0 * std::max(1, shape.batch) * static_cast<double>(shape.m) * shape.k * shape.n;
  return {median * 1e3, flops / median / 1e9};
}

double measure_gemm_gflops(int n, int repeats) {
  return measure_matmul({0, n, n, n}, repeats).gflops;
}

}  // namespace avqa::runtime
