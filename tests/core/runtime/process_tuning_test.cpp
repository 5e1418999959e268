#include "core/runtime/process_tuning.h"

#include <cstdlib>
#include <malloc.h>

#include <gtest/gtest.h>

namespace avqa::runtime {
namespace {

constexpr CpuVectorSupport kSse{false, false};
constexpr CpuVectorSupport kAvx2{true, false};
constexpr CpuVectorSupport kAvx512{true, true};

// The case from an Intel Xeon with AVX-512 that OpenBLAS 0.3.21 does not know: it fell back to
// Prescott, and SkylakeX kernels made GEMMs 4x faster there.
TEST(ProcessTuning, GenericKernelsOnAModernCpuAreReplaced) {
  EXPECT_EQ(choose_blas_core("Prescott", kAvx512, false).wanted, "SkylakeX");
  EXPECT_EQ(choose_blas_core("Prescott", kAvx2, false).wanted, "Haswell");
  EXPECT_EQ(choose_blas_core("Nehalem", kAvx2, false).wanted, "Haswell");
  EXPECT_EQ(choose_blas_core("Sandybridge", kAvx512, false).wanted, "SkylakeX");
  const BlasCoreChoice c = choose_blas_core("Prescott", kAvx512, false);
  EXPECT_EQ(c.loaded, "Prescott");
  EXPECT_NE(c.reason.find("Prescott"), std::string::npos) << c.reason;
}

TEST(ProcessTuning, FittingKernelsTheUsersChoiceAndOldCpusAreKept) {
  for (const char* core : {"Haswell", "Zen", "SkylakeX", "COOPERLAKE"})
    EXPECT_EQ(choose_blas_core(core, kAvx512, false).wanted, "") << core;
  EXPECT_EQ(choose_blas_core("Prescott", kAvx512, true).wanted, "");  // OPENBLAS_CORETYPE set
  EXPECT_EQ(choose_blas_core("Prescott", kSse, false).wanted, "");    // nothing better fits
  EXPECT_EQ(choose_blas_core("", kAvx512, false).wanted, "");         // not OpenBLAS
}

TEST(ProcessTuning, ExtractionSleepsAndTensorWorkSpinsAWhile) {
  const WaitChoice extraction = choose_wait(Workload::Extraction);
  EXPECT_EQ(extraction.policy, "PASSIVE");
  const WaitChoice compute = choose_wait(Workload::Compute);
  EXPECT_NE(compute.policy, "PASSIVE");
  ASSERT_FALSE(compute.spin_count.empty());
  EXPECT_GT(std::atol(compute.spin_count.c_str()), 0);
}

TEST(ProcessTuning, FreedMemoryIsKeptUnlessTheUserTunedMalloc) {
  EXPECT_TRUE(choose_memory(false).keep_freed);
  const MemoryChoice user = choose_memory(true);
  EXPECT_FALSE(user.keep_freed);
  EXPECT_NE(user.reason.find("user"), std::string::npos) << user.reason;
}

// This program's main() is the tuned one: the restart has happened and the settings are in force.
TEST(ProcessTuning, TestProgramsRunWithTheChosenSettings) {
  const std::string described = describe_process_tuning();
  EXPECT_NE(described.find("BLAS kernels:"), std::string::npos) << described;
  const char* policy = std::getenv("OMP_WAIT_POLICY");
  const char* spin = std::getenv("GOMP_SPINCOUNT");
  EXPECT_TRUE(policy != nullptr || spin != nullptr) << described;
  EXPECT_NE(described.find("Freed memory: kept"), std::string::npos) << described;
#ifndef __SANITIZE_ADDRESS__  // AddressSanitizer brings its own allocator
  // A block as large as a training batch comes from the heap, not from a fresh mapping (the
  // mappings made while the libraries loaded, before main, stay).
  const std::size_t mapped_before = mallinfo2().hblks;
  void* block = std::malloc(64 << 20);
  ASSERT_NE(block, nullptr);
  EXPECT_EQ(mallinfo2().hblks, mapped_before);
  std::free(block);
#endif
}

}  // namespace
}  // namespace avqa::runtime
