#pragma once

#include <exception>

namespace CLI {
class App;
}

namespace avqa::tools {

/// Options every command may read; set by `avqa` before a command runs.
struct GlobalOptions {
  int threads = 0;  ///< torch intra-op threads; 0 = all CPUs
};

/// Thrown by a command that has already reported its problems and only needs `avqa` to exit
/// with `code` (e.g. `data check` after listing every error it found).
class ExitStatus : public std::exception {
 public:
  explicit ExitStatus(int code) : code_(code) {}
  int code() const noexcept { return code_; }
  const char* what() const noexcept override { return "command finished with a non-zero status"; }

 private:
  int code_;
};

/// `avqa data stats|vocab|check`: the annotation layer.
void add_data_commands(CLI::App& app);
/// `avqa generate`: the synthetic MUSIC-AVQA dataset.
void add_generate_command(CLI::App& app);
/// `avqa extract` and `avqa cache info|verify`: features in an HDF5 cache.
void add_feature_commands(CLI::App& app, const GlobalOptions& global);
/// `avqa bench extract` and `avqa bench cache-read`, under `bench`.
void add_bench_extract_commands(CLI::App& bench, const GlobalOptions& global);
/// `avqa train`, `avqa eval`, `avqa import-checkpoint` and `avqa export-checkpoint`.
void add_model_commands(CLI::App& app, const GlobalOptions& global);
/// `avqa env` and `avqa bench gemm`: what LibTorch runs on, and how fast.
void add_runtime_commands(CLI::App& app, const GlobalOptions& global);

}  // namespace avqa::tools
