#!/usr/bin/env bash
# Balanced multimodal learning side by side: every --balance method x 3 seeds on a generated
# audio-visual classification set where each modality decides clips the other cannot (half of the
# clips show two or three instruments, one sounding, none moving; a quarter of the others have
# their sound buried in noise), trained on a small train split (a quarter of the clips: the regime
# where one modality can fit it alone), the best epoch chosen on val, scored on test (288 clips).
# Prints a Markdown table and writes accuracy.png.
#   bench/balance.sh [--out DIR] [--videos N] [--epochs N] [--seeds N] [--imbalance X]
#                    [--ambiguous-audio X] [--threads N] [--avqa-run RUN]
# --avqa-run: also retrain that ST-AVQA run (the demo's build/demo/run) per method x seed, shorter.
# The data and the runs stay in DIR (default build/bench-balance): a second call reuses them.
set -euo pipefail
cd "$(dirname "$0")/.."

out=build/bench-balance videos=480 epochs=60 seeds=3 imbalance=0.5 ambiguous_audio=0.25 threads=2
classes=6 avqa_run=
while [ $# -gt 0 ]; do
  case "$1" in
    --out) out=$2; shift 2 ;;
    --videos) videos=$2; shift 2 ;;
    --epochs) epochs=$2; shift 2 ;;
    --seeds) seeds=$2; shift 2 ;;
    --imbalance) imbalance=$2; shift 2 ;;
    --ambiguous-audio) ambiguous_audio=$2; shift 2 ;;
    --threads) threads=$2; shift 2 ;;
    --avqa-run) avqa_run=$2; shift 2 ;;
    *) echo "usage: $0 [--out DIR] [--videos N] [--epochs N] [--seeds N] [--imbalance X] [--ambiguous-audio X] [--threads N] [--avqa-run RUN]" >&2; exit 2 ;;
  esac
done
avqa=${AVQA:-build/release/tools/avqa}
[ -x "$avqa" ] || { echo "balance.sh: build avqa first (cmake --preset release && cmake --build --preset release)" >&2; exit 2; }
echo "CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), $(nproc) CPU(s); $threads thread(s)"
mkdir -p "$out"
. bench/classification_data.sh
make_classification_data "$out" "$avqa" "$threads" "$videos" "$classes" "$imbalance" \
  "$ambiguous_audio"
avqa_args=()
[ -n "$avqa_run" ] && avqa_args=(--avqa-config "$avqa_run/run.json")
"$avqa" --threads "$threads" bench balance --data "$out/data" --cache "$out/data/features.h5" \
  --out "$out/runs" --epochs "$epochs" --seeds "$seeds" "${avqa_args[@]}"
