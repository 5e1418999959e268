#include "core/runtime/torch_runtime.h"

#include <dlfcn.h>
#include <filesystem>

#include <gtest/gtest.h>

namespace avqa::runtime {
namespace {

TEST(TorchRuntime, ThreadsComeFromConfiguration) {
  EXPECT_EQ(configure_torch({1}), 1);
  EXPECT_GE(configure_torch({0}), 1);
  EXPECT_EQ(configure_torch({2}), 2);
  EXPECT_THROW(configure_torch({-1}), std::invalid_argument);
}

TEST(TorchRuntime, OpenBlasThreadsFollowTheConfiguration) {
  using GetThreadsFn = int (*)();
  auto* get_blas_threads =
      reinterpret_cast<GetThreadsFn>(::dlsym(RTLD_DEFAULT, "openblas_get_num_threads"));
  if (get_blas_threads == nullptr) GTEST_SKIP() << "the loaded BLAS is not OpenBLAS";
  configure_torch({1});
  EXPECT_EQ(get_blas_threads(), 1);
  configure_torch({2});
  EXPECT_EQ(get_blas_threads(), 2);
}

// tools/install-deps.sh installs OpenBLAS: with Debian's reference BLAS every model runs 4-28x
// slower, and nothing else would notice (torch::show_config() says "generic" for both).
TEST(TorchRuntime, GemmsRunOnAnOptimisedBlas) {
  const BlasLibrary blas = loaded_blas_library();
  ASSERT_FALSE(blas.path.empty()) << "no library providing sgemm_ is loaded";
  EXPECT_TRUE(std::filesystem::exists(blas.path)) << blas.path;
  EXPECT_NE(blas.kind, BlasLibrary::Kind::Reference)
      << "LibTorch uses the reference BLAS at " << blas.path << "; install libopenblas0-openmp";
}

// The figure is the product's operations over its median time: 2*m*k*n per product.
TEST(TorchRuntime, GemmFiguresCountTheProductsOperations) {
  configure_torch({1});
  const MatmulTiming plain = measure_matmul({0, 32, 48, 16}, 3);
  EXPECT_NEAR(plain.gflops * plain.median_ms * 1e6, 2.0 * 32 * 48 * 16, 1e-3 * 2 * 32 * 48 * 16);
  const MatmulTiming batched = measure_matmul({5, 32, 48, 16}, 3);
  EXPECT_NEAR(batched.gflops * batched.median_ms * 1e6, 5 * 2.0 * 32 * 48 * 16,
              1e-3 * 5 * 2 * 32 * 48 * 16);
  EXPECT_THROW(measure_gemm_gflops(0, 3), std::invalid_argument);
}

}  // namespace
}  // namespace avqa::runtime
