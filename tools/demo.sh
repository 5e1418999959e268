#!/usr/bin/env bash
# The README's first command. What it does today: installs the Debian packages, builds `avqa`,
# generates the embedded default dataset (synthetic MUSIC-AVQA: real MP4 videos, questions of
# all nine types, ground truth of who sounds when and where), reads it back with the annotation
# tools, trains the built-in backbones on it and extracts features into an HDF5 cache; then the
# real MUSIC-AVQA annotations when ../shared is present. The ST-AVQA network arrives with its
# issue; this script grows with it and never prints results it did not compute.
set -euo pipefail
cd "$(dirname "$0")/.."

tools/install-deps.sh
cmake --preset release >/dev/null
cmake --build --preset release --target avqa
avqa=build/release/tools/avqa
out=build/demo
data=$out/synthetic
mkdir -p "$out"

echo
echo "== avqa env: what LibTorch runs on"
"$avqa" env

echo
echo "== avqa generate: 60 ten-second videos, seed 1"
"$avqa" generate --out "$data" --videos 60 --seed 1 --overwrite

echo
echo "== avqa data stats: the synthetic test split"
"$avqa" data stats "$data/annotations/avqa-test.json"

echo
echo "== avqa data vocab + check: the generated questions use ST-AVQA's vocabulary rules"
"$avqa" data vocab --from "$data"/annotations/avqa-{train,val,test}.json --out "$out/synthetic-vocab.json"
"$avqa" data check --vocab "$out/synthetic-vocab.json" "$data"/annotations/avqa-{train,val,test}.json

echo
echo "== avqa pretrain-backbones: ResNet-18 and VGGish learn which instruments are seen and heard"
"$avqa" pretrain-backbones --data "$data" --out "$out/weights" --epochs 2 --size 112

echo
echo "== avqa extract: audio and visual features of every video, with those weights"
rm -f "$data/features.h5" "$data/features.h5.failures.json"
"$avqa" extract --videos "$data/videos" --out "$data/features.h5" --seconds 10 \
  --visual-weights "$out/weights/resnet18.pt" --audio-weights "$out/weights/vggish.pt"
"$avqa" cache info "$data/features.h5"
"$avqa" cache verify "$data/features.h5"

first=$(ls "$data/videos" | head -n 1)
echo
echo "demo: dataset in $data: videos/ (open $data/videos/$first in any player), annotations/,"
echo "      truth/ (who is where, who sounds when), manifest.json (seed, balance, blind baseline)"

shared=../shared/data/music-avqa
if [ ! -d "$shared" ]; then
  echo "demo: $shared not found; skipping the real MUSIC-AVQA annotations."
  exit 0
fi
echo
echo "== the real MUSIC-AVQA annotations: the corrected release validates, the original repeats ids"
"$avqa" data check "$shared/json_update/avqa-val.json" "$shared/json_update/avqa-test.json"
"$avqa" data check --duplicates keep-all "$shared/json/avqa-test.json"
"$avqa" data stats --top 3 "$shared/json_update/avqa-test.json"
"$avqa" data vocab --from "$shared"/json/avqa-{val,test,train_fake}.json --duplicates keep-all \
  --answers "$shared/qa-tiger/answer2idx.json" --out "$out/music-avqa-vocab.json"
