#!/usr/bin/env bash
# The original ST-AVQA code and avqa side by side, in one run, on this machine: a training step
# (batch 64) and a batch-1 answer with the negative branch (as the original's test() runs it),
# both on random inputs of the real shapes, then feature extraction against its ceiling.
#   bench/original.sh [--threads N] [--train-repeats N] [--infer-repeats N] [--no-extract]
# Needs Debian's python3-torch and python3-torchvision (tools/install-deps.sh installs them) and
# the original code in ../shared/peer/music-avqa; skips with a message where either is absent.
set -euo pipefail
cd "$(dirname "$0")/.."

threads=2 train_repeats=8 infer_repeats=100 extract=1
while [ $# -gt 0 ]; do
  case "$1" in
    --threads) threads=$2; shift 2 ;;
    --train-repeats) train_repeats=$2; shift 2 ;;
    --infer-repeats) infer_repeats=$2; shift 2 ;;
    --no-extract) extract=0; shift ;;
    *) echo "usage: $0 [--threads N] [--train-repeats N] [--infer-repeats N] [--no-extract]" >&2; exit 2 ;;
  esac
done

avqa=${AVQA:-build/release/tools/avqa}
peer=../shared/peer/music-avqa/net_grd_avst
[ -x "$avqa" ] || { echo "original.sh: build avqa first (cmake --preset release && cmake --build --preset release)" >&2; exit 2; }
if [ ! -f "$peer/net_avst.py" ]; then
  echo "original.sh: skipped: the original code is not in $peer"; exit 0
fi
python=/usr/bin/python3
if ! "$python" -c 'import torch, torchvision' 2>/dev/null; then
  echo "original.sh: skipped: python3-torch and python3-torchvision are not installed (tools/install-deps.sh)"; exit 0
fi

echo "CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), $(nproc) CPU(s); $threads thread(s) each"
"$avqa" --threads "$threads" env | grep -E 'BLAS kernels|OpenMP waiting'
# The original runs on the same BLAS kernels avqa chose (OpenBLAS reads the variable when it
# loads), so the ratio measures the code, not a kernel choice.
core=$("$avqa" env | sed -n 's/^BLAS kernels: OpenBLAS \([A-Za-z0-9]*\).*/\1/p')
export OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-$core}

original=$("$python" bench/original_timing.py "$peer" "$threads" "$train_repeats" "$infer_repeats")
step_line=$("$avqa" --threads "$threads" bench train-step --repeats "$train_repeats")
infer_line=$("$avqa" --threads "$threads" bench infer --repeats "$infer_repeats")
o_step=$(echo "$original" | sed 's/.*"train_step_s": \([0-9.e-]*\).*/\1/')
o_infer=$(echo "$original" | sed 's/.*"answer_ms": \([0-9.e-]*\).*/\1/')
a_step=$(echo "$step_line" | sed -n 's/.*median \([0-9.]*\) s.*/\1/p')
a_infer=$(echo "$infer_line" | sed -n 's/.*median \([0-9.]*\) ms.*/\1/p')
printf '%-44s %12s %12s %8s %8s\n' "" original avqa ratio target
printf '%-44s %10.3f s %10.3f s %8.2f %8s\n' "training step, batch 64" "$o_step" "$a_step" \
  "$(awk -v a="$a_step" -v o="$o_step" 'BEGIN { print a / o }')" "<= 0.40"
printf '%-44s %9.2f ms %9.2f ms %8.2f %8s\n' "answer, batch 1, with the negative branch" "$o_infer" "$a_infer" \
  "$(awk -v a="$a_infer" -v o="$o_infer" 'BEGIN { print a / o }')" "<= 0.25"

if [ "$extract" = 1 ]; then
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  "$avqa" generate --out "$work/data" --videos 20 --seconds 10 --seed 1 --quiet >/dev/null
  "$avqa" --threads "$threads" bench extract --videos "$work/data/videos" --count 20 --seconds 10
fi
