#!/usr/bin/env bash
# Robust training side by side: joint training (none) vs CRMT vs adversarial training x 3 seeds on
# the generated classification set of bench/balance.sh (the same data, backbones and recipe), each
# run scored on the test split by robust-eval (l2 PGD on each modality at 2-20 % of the input's
# norm, each modality missing, a random modality lost per sample, CRMT's certified accuracy).
# Prints Markdown tables with the summary the robustness issue asks for, writes
# robust-<modality>.png. With --avqa-run, also ST-AVQA retrained from that run's run.json.
#   bench/robust.sh [--out DIR] [--methods none,crmt,adv] [--seeds N] [--epochs N]
#                   [--avqa-run RUN] [--avqa-epochs N] [--avqa-seeds N] [--threads N]
#                   [-- MORE]
# MORE goes to `avqa bench robust` as it is, e.g. the training attack the README's ST-AVQA table
# uses: -- --adv-ball per-modality --adv-modalities audio
# The data and runs stay in DIR (default build/bench-robust): a second call reuses them.
set -euo pipefail
cd "$(dirname "$0")/.."

out=build/bench-robust methods=none,crmt,adv seeds=3 epochs=60 threads=2 avqa_run= avqa_epochs=6
avqa_seeds=3
while [ $# -gt 0 ]; do
  case "$1" in
    --out) out=$2; shift 2 ;;
    --methods) methods=$2; shift 2 ;;
    --seeds) seeds=$2; shift 2 ;;
    --epochs) epochs=$2; shift 2 ;;
    --avqa-run) avqa_run=$2; shift 2 ;;
    --avqa-epochs) avqa_epochs=$2; shift 2 ;;
    --avqa-seeds) avqa_seeds=$2; shift 2 ;;
    --threads) threads=$2; shift 2 ;;
    --) shift; break ;;
    *) echo "usage: $0 [--out DIR] [--methods M,...] [--seeds N] [--epochs N] [--avqa-run RUN] [--avqa-epochs N] [--avqa-seeds N] [--threads N] [-- MORE]" >&2; exit 2 ;;
  esac
done
avqa=${AVQA:-build/release/tools/avqa}
[ -x "$avqa" ] || { echo "robust.sh: build avqa first (cmake --preset release && cmake --build --preset release)" >&2; exit 2; }
echo "CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), $(nproc) CPU(s); $threads thread(s)"
mkdir -p "$out"
# The balance benchmark's data: 480 clips of 6 classes where each modality decides clips the
# other cannot, backbones pretrained on other generated clips (bench/classification_data.sh).
. bench/classification_data.sh
make_classification_data "$out" "$avqa" "$threads" 480 6 0.5 0.25
avqa_args=()
[ -n "$avqa_run" ] && avqa_args=(--avqa-config "$avqa_run/run.json" --avqa-epochs "$avqa_epochs" --avqa-seeds "$avqa_seeds")
start=$(date +%s)
"$avqa" --threads "$threads" bench robust --data "$out/data" --cache "$out/data/features.h5" \
  --out "$out/runs" --methods "$methods" --seeds "$seeds" --epochs "$epochs" "${avqa_args[@]}" "$@"
echo "in $(( $(date +%s) - start )) s; tables and plots in $out/runs"
