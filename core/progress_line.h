#pragma once

#include <chrono>
#include <cstddef>
#include <cstdio>
#include <string>

namespace avqa::core {

/// A one-line progress report for long jobs: done/total, items per second and ETA. On a
/// terminal it redraws in place; in a log (CI, a pipe) it prints a line every 10 %.
class ProgressLine {
 public:
  ProgressLine(std::string label,
               std::size_t total,
               std::string unit = "items",
               std::FILE* out = stderr);

  /// Reports `done` items finished (monotonic); cheap to call often.
  void update(std::size_t done, const std::string& note = {});
  /// Prints the final line with the total time.
  void finish(const std::string& note = {});

  double elapsed_seconds() const;

 private:
  void print(std::size_t done, const std::string& note, bool final_line);

  std::string label_;
  std::size_t total_;
  std::string unit_;
  std::FILE* out_;
  bool terminal_;
  std::chrono::steady_clock::time_point start_;
  std::chrono::steady_clock::time_point last_print_;
  std::size_t last_decile_ = 0;
};

}  // namespace avqa::core
