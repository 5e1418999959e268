#pragma once

#include <string>
#include <vector>

namespace avqa::core {

/// What a finished child process left behind.
struct ProcessResult {
  int exit_code = -1;  ///< the exit status, or 128 + signal when a signal ended it
  std::string standard_output;
  std::string standard_error;
};

/// Runs `argv` (argv[0] found on PATH when it has no '/'), without a shell, and waits for it;
/// its output and errors are collected through temporary files, so a chatty child cannot block.
/// Throws std::runtime_error when it cannot be started.
ProcessResult run_process(const std::vector<std::string>& argv);

}  // namespace avqa::core
