// `avqa env` and `avqa bench gemm`: the facts to print next to any timing.
#include <cstdio>
#include <iostream>
#include <memory>

#include <CLI/CLI.hpp>

#include "core/runtime/process_tuning.h"
#include "core/runtime/torch_runtime.h"
#include "tools/commands.h"

namespace avqa::tools {
namespace {

struct GemmOptions {
  int size = 1024;
  int repeats = 10;
};

void print_runtime(const runtime::RuntimeInfo& info) {
  std::cout << "avqa " << AVQA_VERSION_STRING << "\n"
            << "LibTorch " << info.torch_version << ", " << info.threads << " intra-op thread(s), "
            << info.online_cpus << " online CPU(s)\n"
            << "BLAS: " << runtime::to_string(info.blas.kind) << " at "
            << (info.blas.path.empty() ? "(not found)" : info.blas.path) << "\n";
  if (!info.blas.config.empty()) std::cout << "BLAS build: " << info.blas.config << "\n";
  std::cout << runtime::describe_process_tuning();
  if (info.blas.kind == runtime::BlasLibrary::Kind::Reference) {
    std::cerr << "avqa: warning: LibTorch is using the reference BLAS, 4-28x slower than OpenBLAS; "
                 "run tools/install-deps.sh (it installs libopenblas0-openmp)\n";
  }
}

void run_gemm(const GemmOptions& options, const GlobalOptions& global) {
  runtime::configure_torch({global.threads});
  print_runtime(runtime::describe_runtime());
  // The square product shows the BLAS itself; the other two are ST-AVQA's shapes at batch 64
  // (10 segments): a Linear layer, and the per-patch grounding scores LibTorch batches itself.
  struct Case {
    const char* name;
    runtime::MatmulShape shape;
  };
  const Case cases[] = {
      {"square", {0, options.size, options.size, options.size}},
      {"linear 640x1024 * 1024x512", {0, 640, 1024, 512}},
      {"bmm 640 x [196x512 * 512x1]", {640, 196, 512, 1}},
  };
  std::printf("%-30s %10s %10s   (median of %d)\n", "product", "ms", "GFLOP/s", options.repeats);
  for (const Case& c : cases) {
    const runtime::MatmulTiming t = runtime::measure_matmul(c.shape, options.repeats);
    std::printf("%-30s %10.3f %10.1f\n", c.name, t.median_ms, t.gflops);
  }
}

}  // namespace

void add_runtime_commands(CLI::App& app, const GlobalOptions& global) {
  CLI::App* env =
      app.add_subcommand("env", "Print LibTorch version, threads and the BLAS library in use");
  env->callback([&global] {
    runtime::configure_torch({global.threads});
    print_runtime(runtime::describe_runtime());
  });

  CLI::App* bench = app.add_subcommand("bench", "Benchmarks that print figures");
  bench->require_subcommand(1);
  auto gemm = std::make_shared<GemmOptions>();
  CLI::App* gemm_cmd = bench->add_subcommand(
      "gemm", "float32 matrix product throughput through LibTorch (BLAS and ST-AVQA shapes)");
  gemm_cmd->add_option("--size", gemm->size, "Side of the square product")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  gemm_cmd->add_option("--repeats", gemm->repeats, "Timed runs (median reported)")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  gemm_cmd->callback([gemm, &global] { run_gemm(*gemm, global); });
  add_bench_extract_commands(*bench, global);
}

}  // namespace avqa::tools
