#include "core/child_process.h"

#include <stdexcept>

#include <gtest/gtest.h>

namespace avqa::core {
namespace {

TEST(ChildProcess, CollectsOutputErrorsAndExitCode) {
  const ProcessResult r = run_process({"sh", "-c", "echo out; echo err >&2; exit 3"});
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_EQ(r.standard_output, "out\n");
  EXPECT_EQ(r.standard_error, "err\n");
}

TEST(ChildProcess, ArgumentsReachTheChildUnchangedWithoutAShell) {
  const ProcessResult r = run_process({"printf", "%s|", "a b", "$HOME", "'q'"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.standard_output, "a b|$HOME|'q'|");
}

TEST(ChildProcess, LargeOutputDoesNotBlock) {
  // Far more than a pipe buffer (64 KiB): a pipe-based reader that waits first would hang.
  const ProcessResult r = run_process({"head", "-c", "3000000", "/dev/zero"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.standard_output.size(), 3000000u);
}

TEST(ChildProcess, SignalsAndMissingProgramsAreReported) {
  EXPECT_EQ(run_process({"sh", "-c", "kill -9 $$"}).exit_code, 128 + 9);
  EXPECT_THROW(run_process({"/nonexistent/avqa-no-such-program"}), std::runtime_error);
  EXPECT_THROW(run_process({}), std::invalid_argument);
}

}  // namespace
}  // namespace avqa::core
