#!/usr/bin/env bash
# The project's test command (README, CI): installs missing Debian packages, configures and builds
# the release preset with 2 jobs and runs every test with ctest; then builds the same tests with
# AddressSanitizer + UndefinedBehaviorSanitizer (the asan preset) and runs them again, so a memory
# error fails the suite. Extra arguments go to both ctest runs, e.g. `tools/test.sh -L unit` or
# `tools/test.sh -R Vocabulary`. AVQA_TEST_ASAN=0 skips the sanitizer pass (a quick local run).
set -euo pipefail
cd "$(dirname "$0")/.."

tools/install-deps.sh

start=$(date +%s)
cmake --preset release
cmake --build --preset release
echo "test.sh: release build took $(( $(date +%s) - start )) s"
ctest --preset release "$@"

if [ "${AVQA_TEST_ASAN:-1}" != 0 ]; then
  start=$(date +%s)
  cmake --preset asan
  cmake --build --preset asan
  echo "test.sh: asan build took $(( $(date +%s) - start )) s"
  ctest --preset asan "$@"
fi
