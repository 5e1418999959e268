#!/usr/bin/env bash
# Balanced multimodal learning side by side: every --balance method x 3 seeds on a generated
# audio-visual classification set where the audio is the clear modality (half of the clips show
# two or three instruments, one sounding, none moving), trained on train, the best epoch chosen on
# val, scored on test. Prints a Markdown table and writes accuracy.png.
#   bench/balance.sh [--out DIR] [--videos N] [--epochs N] [--seeds N] [--imbalance X] [--threads N]
#                    [--avqa-run RUN]
# --avqa-run: also retrain that ST-AVQA run (the demo's build/demo/run) per method x seed, shorter.
# The data and the runs stay in DIR (default build/bench-balance): a second call reuses them.
set -euo pipefail
cd "$(dirname "$0")/.."

out=build/bench-balance videos=360 epochs=20 seeds=3 imbalance=0.5 threads=2 classes=6 avqa_run=
while [ $# -gt 0 ]; do
  case "$1" in
    --out) out=$2; shift 2 ;;
    --videos) videos=$2; shift 2 ;;
    --epochs) epochs=$2; shift 2 ;;
    --seeds) seeds=$2; shift 2 ;;
    --imbalance) imbalance=$2; shift 2 ;;
    --threads) threads=$2; shift 2 ;;
    --avqa-run) avqa_run=$2; shift 2 ;;
    *) echo "usage: $0 [--out DIR] [--videos N] [--epochs N] [--seeds N] [--imbalance X] [--threads N]" >&2; exit 2 ;;
  esac
done
avqa=${AVQA:-build/release/tools/avqa}
[ -x "$avqa" ] || { echo "balance.sh: build avqa first (cmake --preset release && cmake --build --preset release)" >&2; exit 2; }
echo "CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), $(nproc) CPU(s); $threads thread(s)"
mkdir -p "$out"
if [ ! -f "$out/data/annotations/class-test.csv" ]; then
  "$avqa" generate --out "$out/data" --videos "$videos" --seconds 3 --size 112 --seed 7 \
    --classes "$classes" --imbalance "$imbalance" --questions-per-video 1 --overwrite
fi
# Our stand-in for ImageNet/AudioSet pretraining: the backbones learn which instruments are seen
# and heard on a separate generated question-answering set (another seed, no classification
# labels), so the classification videos' labels never reach them. Random backbones would give
# visual features with no class information at all (probe at chance), and nothing to balance.
if [ ! -f "$out/weights/resnet18.pt" ]; then
  if [ ! -f "$out/pretrain/manifest.json" ]; then
    "$avqa" generate --out "$out/pretrain" --videos 160 --seconds 3 --size 112 --seed 8 \
      --questions-per-video 1 --overwrite
  fi
  "$avqa" --threads "$threads" pretrain-backbones --data "$out/pretrain" --out "$out/weights" \
    --epochs 2 --size 112 --lr 3e-4
fi
if [ ! -f "$out/data/features.h5" ] || ! "$avqa" cache verify "$out/data/features.h5" >/dev/null 2>&1; then
  "$avqa" --threads "$threads" extract --videos "$out/data/videos" --out "$out/data/features.h5" \
    --seconds 3 --size 112 --visual-weights "$out/weights/resnet18.pt" \
    --audio-weights "$out/weights/vggish.pt" --resume
fi
avqa_args=()
[ -n "$avqa_run" ] && avqa_args=(--avqa-config "$avqa_run/run.json")
"$avqa" --threads "$threads" bench balance --data "$out/data" --cache "$out/data/features.h5" \
  --out "$out/runs" --epochs "$epochs" --seeds "$seeds" "${avqa_args[@]}"
