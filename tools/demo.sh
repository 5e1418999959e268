#!/usr/bin/env bash
# The README's first command. What it does today: installs the Debian packages, builds `avqa`,
# shows what LibTorch runs on, and reads the real MUSIC-AVQA annotations when ../shared is
# present (statistics, vocabularies, validation). The synthetic dataset, feature extraction and
# the ST-AVQA network arrive with their issues; this script grows with them and never prints
# results it did not compute.
set -euo pipefail
cd "$(dirname "$0")/.."

tools/install-deps.sh
cmake --preset release >/dev/null
cmake --build --preset release --target avqa
avqa=build/release/tools/avqa

echo
echo "== avqa env: what LibTorch runs on"
"$avqa" env

data=../shared/data/music-avqa
if [ ! -d "$data" ]; then
  echo
  echo "demo: $data not found; the annotation part of the demo needs the MUSIC-AVQA files there."
  exit 0
fi

out=build/demo
mkdir -p "$out"
echo
echo "== avqa data check: the corrected release validates; the original one has duplicate ids"
"$avqa" data check "$data/json_update/avqa-val.json" "$data/json_update/avqa-test.json"
"$avqa" data check --duplicates keep-all "$data/json/avqa-test.json"

echo
echo "== avqa data stats: the corrected test set, per question type"
"$avqa" data stats "$data/json_update/avqa-test.json"

echo
echo "== avqa data vocab: ST-AVQA's word vocabulary and the 42 answers"
"$avqa" data vocab --from "$data/json/avqa-val.json" "$data/json/avqa-test.json" "$data/json/avqa-train_fake.json" \
  --duplicates keep-all --answers "$data/qa-tiger/answer2idx.json" --out "$out/vocab.json"
"$avqa" data check --duplicates keep-all --vocab "$out/vocab.json" "$data/json_update/avqa-test.json"
echo
echo "demo: vocabulary written to $out/vocab.json"
