#include "avqa/few_rows_linear.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

namespace avqa::net {
namespace {

// Every shape the blocking has a path for: row counts around the three-row blocks, output counts
// around the four-row blocks and the threads' 64-output split, input widths with and without a
// remainder of eight or sixteen (AVX-512 takes multiples of 16, AVX2 the rest). On a CPU without
// AVX-512 (or AVX2) the faster kernels fall back, and the test compares what runs.
TEST(FewRowsLinear, MatchesLinearForEveryBlockingRemainder) {
  torch::manual_seed(1);
  for (const Kernel kernel : {Kernel::Fastest, Kernel::Avx2, Kernel::Portable}) {
    use_kernels(kernel);
    const char* name = kernel == Kernel::Fastest ? " fastest"
                       : kernel == Kernel::Avx2  ? " AVX2"
                                                 : " portable";
    for (const std::int64_t rows : {1, 2, 3, 4, 5, 6, 7, 10, 12, 13, 20, 32, 40}) {
      for (const std::int64_t out : {1, 3, 4, 6, 65, 130}) {
        for (const std::int64_t in : {5, 8, 13, 16, 48, 64}) {
          const auto x = torch::randn({rows, in});
          const auto w = torch::randn({out, in});
          const auto b = torch::randn({out});
          const auto expected = torch::nn::functional::linear(x, w, b);
          EXPECT_TRUE(torch::allclose(few_rows_linear(x, w, b), expected, 1e-5, 1e-5))
              << rows << " x " << in << " -> " << out << name;
          EXPECT_TRUE(torch::allclose(few_rows_linear(x, w, {}),
                                      torch::nn::functional::linear(x, w), 1e-5, 1e-5))
              << rows << " x " << in << " -> " << out << " without bias";
        }
      }
    }
  }
  use_kernels(Kernel::Fastest);
}

// A row's result must not depend on the rows computed with it: batch-1 answers put the negative
// frames beside the positive ones and promise the same answer as without them.
TEST(FewRowsLinear, EachRowIsTheSameAloneAndAmongOthers) {
  torch::manual_seed(2);
  for (const std::int64_t in : {100, 128}) {  // 128: the AVX-512 kernel where present
    const auto x = torch::randn({20, in});
    const auto w = torch::randn({37, in});
    const auto b = torch::randn({37});
    const auto together = few_rows_linear(x, w, b);
    for (std::int64_t r = 0; r < 20; ++r) {
      EXPECT_TRUE(torch::equal(few_rows_linear(x.narrow(0, r, 1), w, b), together.narrow(0, r, 1)))
          << "row " << r << ", width " << in;
    }
    EXPECT_TRUE(torch::equal(few_rows_linear(x.narrow(0, 3, 7), w, b), together.narrow(0, 3, 7)));
  }
}

TEST(FewRowsLinear, MatrixVectorIsOneRowAndNonContiguousInputsAreTaken) {
  torch::manual_seed(3);
  const auto x = torch::randn({1, 517});
  const auto w = torch::randn({2051, 517});
  const auto b = torch::randn({2051});
  auto out = torch::empty({2051});
  matrix_vector(x.data_ptr<float>(), 517, w.data_ptr<float>(), b.data_ptr<float>(), 2051,
                out.data_ptr<float>());
  EXPECT_TRUE(torch::equal(out, few_rows_linear(x, w, b).view({2051})));
  EXPECT_TRUE(
      torch::allclose(out, torch::nn::functional::linear(x, w, b).view({2051}), 1e-4, 1e-4));
  const auto wt = torch::randn({64, 30}).t();  // [30, 64], not contiguous
  const auto xs = torch::randn({4, 128}).narrow(1, 0, 64);
  EXPECT_TRUE(torch::allclose(few_rows_linear(xs, wt, {}), torch::nn::functional::linear(xs, wt),
                              1e-5, 1e-5));
  EXPECT_THROW(few_rows_linear(torch::randn({2, 3}), torch::randn({4, 5}), {}), c10::Error);
  EXPECT_THROW(few_rows_linear(torch::randn({2, 3}, torch::kFloat64), torch::randn({4, 3}), {}),
               c10::Error);
}

}  // namespace
}  // namespace avqa::net
