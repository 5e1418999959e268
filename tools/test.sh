#!/usr/bin/env bash
# The project's test command (README, CI): installs missing Debian packages, configures and builds
# the release preset with 2 jobs, and runs every test with ctest. Extra arguments go to ctest,
# e.g. `tools/test.sh -L unit` or `tools/test.sh -R Vocabulary`.
set -euo pipefail
cd "$(dirname "$0")/.."

tools/install-deps.sh

start=$(date +%s)
cmake --preset release
cmake --build --preset release
echo "test.sh: build took $(( $(date +%s) - start )) s"
ctest --preset release "$@"
