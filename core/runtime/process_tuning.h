#pragma once

#include <string>

namespace avqa::runtime {

/// The vector extensions that decide which BLAS kernels fit this CPU (and that the OS enables).
struct CpuVectorSupport {
  bool avx2_fma = false;
  bool avx512 = false;  ///< F, BW, DQ and VL: what OpenBLAS's SkylakeX kernels use
};
CpuVectorSupport detect_cpu_vector_support();

/// OpenBLAS's kernels. Its DYNAMIC_ARCH build (Debian's) picks them once, when it loads, from a
/// table of the CPUs it knew when it was built; a newer CPU gets the generic SSE3 `Prescott`
/// kernels: 4x slower GEMMs on an Intel Xeon with AVX-512 that 0.3.21 does not know.
struct BlasCoreChoice {
  std::string loaded;  ///< the core OpenBLAS chose (openblas_get_corename); empty: not OpenBLAS
  std::string wanted;  ///< OPENBLAS_CORETYPE to restart with; empty: keep `loaded`
  std::string reason;
};

/// Pure decision: restart with AVX-512 (SkylakeX) or AVX2 (Haswell) kernels when OpenBLAS fell
/// back to kernels without AVX2 on a CPU that has it; never when the user set OPENBLAS_CORETYPE.
BlasCoreChoice choose_blas_core(const std::string& loaded, CpuVectorSupport cpu, bool user_set);

/// What a program mostly does, for how idle OpenMP threads should wait.
enum class Workload {
  /// Tensor work in many short parallel regions (training, answering, evaluation): threads that
  /// sleep between regions pay a futex wake-up each time (16 ms against 3.9 ms per batch-1
  /// answer measured on an Intel Xeon VM), so they spin a while first.
  Compute,
  /// Decoding threads beside the backbones (extraction): spinning OpenMP workers take their CPU.
  Extraction,
};

/// libgomp's waiting: OMP_WAIT_POLICY and GOMP_SPINCOUNT, both read when libgomp loads.
struct WaitChoice {
  std::string policy;      ///< OMP_WAIT_POLICY to set ("" = leave unset)
  std::string spin_count;  ///< GOMP_SPINCOUNT to set ("" = leave unset)
  std::string reason;
};
WaitChoice choose_wait(Workload workload);

/// glibc's malloc serves blocks of 32 MB and more (one batch of 7x7 visual features is 64 MB)
/// from fresh mmap pages and unmaps them on free, so every training step faulted in and zeroed
/// its batches again: 2.4 million page faults per demo epoch, 15 % of its time. Keeping freed
/// memory in the heap instead costs about 10 % more peak memory.
struct MemoryChoice {
  bool keep_freed = false;  ///< mallopt: no mmap for large blocks, no trimming of the heap
  std::string reason;
};
/// Pure decision; `user_set`: the user set glibc's malloc variables (MALLOC_MMAP_MAX_,
/// MALLOC_MMAP_THRESHOLD_, MALLOC_TRIM_THRESHOLD_ or GLIBC_TUNABLES), which are kept.
MemoryChoice choose_memory(bool user_set);

/// Called first in main() of every program of the project that computes. OpenBLAS and libgomp
/// read their settings only while loading, before main, so when the kernels or the waiting
/// should change the process restarts itself once (execv of /proc/self/exe with the same
/// arguments) with the variables set; the memory choice applies at once. Variables the user set
/// are never changed. Returns when
/// nothing needs to change, or after a failed exec (then it runs as it is).
void tune_process(char** argv, Workload workload);

/// For `avqa env`: which kernels, waiting and memory reuse this process runs with, and why.
std::string describe_process_tuning();

}  // namespace avqa::runtime
