#include "core/runtime/process_tuning.h"

#include <algorithm>
#include <cctype>
#include <climits>
#include <cstdlib>
#include <dlfcn.h>
#include <malloc.h>
#include <unistd.h>

namespace avqa::runtime {
namespace {

// Set in the restarted process: it must not restart again, and `avqa env` tells why.
constexpr const char* kTunedMarker = "AVQA_PROCESS_TUNED";
constexpr const char* kBlasFallback = "AVQA_OPENBLAS_CHOSE";  // the core OpenBLAS picked itself
constexpr const char* kWaitReason = "AVQA_WAIT_REASON";

// What tune_process did about freed memory in this process, for describe_process_tuning.
MemoryChoice applied_memory;

bool user_set_malloc() {
  for (const char* name :
       {"MALLOC_MMAP_MAX_", "MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_", "GLIBC_TUNABLES"}) {
    if (std::getenv(name) != nullptr) return true;
  }
  return false;
}

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

const char* env(const char* name) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? v : nullptr;
}

std::string loaded_openblas_core() {
  using CoreFn = char* (*)();
  auto* corename = reinterpret_cast<CoreFn>(::dlsym(RTLD_DEFAULT, "openblas_get_corename"));
  if (corename == nullptr) return {};
  const char* name = corename();
  return name != nullptr ? name : "";
}

}  // namespace

CpuVectorSupport detect_cpu_vector_support() {
  __builtin_cpu_init();
  CpuVectorSupport cpu;
  // GCC's checks include whether the OS saves the wider registers (XGETBV), not just CPUID.
  cpu.avx2_fma = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  cpu.avx512 = cpu.avx2_fma && __builtin_cpu_supports("avx512f") &&
               __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq") &&
               __builtin_cpu_supports("avx512vl");
  return cpu;
}

BlasCoreChoice choose_blas_core(const std::string& loaded, CpuVectorSupport cpu, bool user_set) {
  BlasCoreChoice c;
  c.loaded = loaded;
  if (loaded.empty()) {
    c.reason = "the BLAS is not OpenBLAS";
    return c;
  }
  if (user_set) {
    c.reason = "OPENBLAS_CORETYPE set by the user";
    return c;
  }
  // OpenBLAS 0.3.21's x86-64 cores with AVX2 kernels; anything else is older or generic.
  static const char* const kAvx2Cores[] = {"haswell",        "zen",      "skylakex", "cooperlake",
                                           "sapphirerapids", "excavator"};
  const std::string name = lower(loaded);
  const bool has_avx2_kernels = std::any_of(std::begin(kAvx2Cores), std::end(kAvx2Cores),
                                            [&](const char* k) { return name == k; });
  if (has_avx2_kernels || !cpu.avx2_fma) {
    c.reason = "chosen by OpenBLAS for this CPU";
    return c;
  }
  c.wanted = cpu.avx512 ? "SkylakeX" : "Haswell";
  c.reason = "OpenBLAS chose " + loaded + " (no AVX2 kernels) on a CPU with " +
             (cpu.avx512 ? "AVX-512" : "AVX2") + "; " + c.wanted + " kernels fit it";
  return c;
}

WaitChoice choose_wait(Workload workload) {
  if (workload == Workload::Extraction) {
    return {"PASSIVE", "",
            "extraction: idle OpenMP threads sleep at once and leave the CPU to the decoders"};
  }
  return {"", "200000",
          "tensor work: idle OpenMP threads spin up to 200000 rounds (well under a millisecond) "
          "before sleeping, so the short gaps between parallel regions cost no wake-up"};
}

MemoryChoice choose_memory(bool user_set) {
  if (user_set) return {false, "glibc's malloc settings set by the user"};
  return {true,
          "freed blocks stay in the process for the next batch (no mmap for large blocks, no "
          "heap trimming): training and answering allocate the same large tensors again and "
          "again"};
}

void tune_process(char** argv, Workload workload) {
  // Every process, the restarted one too: mallopt acts at once and is not inherited by execv.
  applied_memory = choose_memory(user_set_malloc());
  if (applied_memory.keep_freed) {
    ::mallopt(M_MMAP_MAX, 0);
    ::mallopt(M_TRIM_THRESHOLD, INT_MAX);
  }
  if (env(kTunedMarker) != nullptr) return;
  bool restart = false;
  const BlasCoreChoice blas = choose_blas_core(loaded_openblas_core(), detect_cpu_vector_support(),
                                               env("OPENBLAS_CORETYPE") != nullptr);
  if (!blas.wanted.empty()) {
    ::setenv("OPENBLAS_CORETYPE", blas.wanted.c_str(), 1);
    ::setenv(kBlasFallback, blas.loaded.c_str(), 1);
    restart = true;
  }
  if (env("OMP_WAIT_POLICY") == nullptr && env("GOMP_SPINCOUNT") == nullptr) {
    const WaitChoice wait = choose_wait(workload);
    if (!wait.policy.empty()) ::setenv("OMP_WAIT_POLICY", wait.policy.c_str(), 1);
    if (!wait.spin_count.empty()) ::setenv("GOMP_SPINCOUNT", wait.spin_count.c_str(), 1);
    ::setenv(kWaitReason, wait.reason.c_str(), 1);
    restart = restart || !wait.policy.empty() || !wait.spin_count.empty();
  }
  if (!restart) return;
  ::setenv(kTunedMarker, "1", 1);
  ::execv("/proc/self/exe", argv);  // returns only on failure: then go on as we are
  ::unsetenv(kTunedMarker);
}

std::string describe_process_tuning() {
  std::string out;
  const std::string core = loaded_openblas_core();
  if (core.empty()) {
    out += "BLAS kernels: not OpenBLAS (no openblas_get_corename)\n";
  } else if (const char* fallback = env(kBlasFallback)) {
    out += "BLAS kernels: OpenBLAS " + core + ", set by avqa (OPENBLAS_CORETYPE): OpenBLAS chose " +
           fallback + " by itself, kernels without AVX2, on a CPU that has them\n";
  } else if (const char* user = env("OPENBLAS_CORETYPE")) {
    out += "BLAS kernels: OpenBLAS " + core + " (OPENBLAS_CORETYPE=" + user + " set by the user)\n";
  } else {
    out += "BLAS kernels: OpenBLAS " + core + ", chosen by OpenBLAS for this CPU\n";
  }
  const char* policy = env("OMP_WAIT_POLICY");
  const char* spin = env("GOMP_SPINCOUNT");
  std::string setting = std::string("OMP_WAIT_POLICY=") + (policy ? policy : "(unset)") +
                        " GOMP_SPINCOUNT=" + (spin ? spin : "(unset)");
  if (const char* reason = env(kWaitReason)) {
    out += "OpenMP waiting: " + setting + ", set by avqa: " + reason + "\n";
  } else {
    out += "OpenMP waiting: " + setting + (policy || spin ? " (set by the user)" : "") + "\n";
  }
  if (!applied_memory.reason.empty()) {
    out += std::string("Freed memory: ") + (applied_memory.keep_freed ? "kept" : "as glibc does") +
           ", " + applied_memory.reason + "\n";
  } else {
    out += "Freed memory: as glibc does (the process was not tuned)\n";
  }
  return out;
}

}  // namespace avqa::runtime
