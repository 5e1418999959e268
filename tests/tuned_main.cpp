// main() of the test programs that run tensors: the same BLAS kernels and OpenMP waiting as the
// avqa tool (core/runtime/process_tuning.h), so tests exercise what users run.
#include <gtest/gtest.h>

#include "core/runtime/process_tuning.h"

int main(int argc, char** argv) {
  avqa::runtime::tune_process(argv, avqa::runtime::Workload::Compute);
  ::testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
