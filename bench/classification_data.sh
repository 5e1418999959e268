# Sourced by bench/balance.sh and bench/robust.sh: the generated audio-visual classification set
# they share, made once in $out (kept between calls).
#   make_classification_data OUT AVQA THREADS VIDEOS CLASSES IMBALANCE AMBIGUOUS_AUDIO
make_classification_data() {
  local out=$1 avqa=$2 threads=$3 videos=$4 classes=$5 imbalance=$6 ambiguous_audio=$7
  if [ ! -f "$out/data/annotations/class-test.csv" ]; then
    "$avqa" generate --out "$out/data" --videos "$videos" --seconds 3 --size 112 --seed 7 \
      --classes "$classes" --imbalance "$imbalance" --ambiguous-audio "$ambiguous_audio" \
      --ambiguous-snr -20 --split 0.25,0.15,0.6 --questions-per-video 1 --overwrite
  fi
  # Our stand-in for ImageNet/AudioSet pretraining: the backbones learn which instruments are seen
  # and heard on separate generated videos of the same instruments (another seed; scenes with one
  # to three of them), so no clip of the benchmark and none of its labels reach them. Random
  # backbones give visual features with no class information at all (probe at chance).
  if [ ! -f "$out/weights/resnet18.pt" ]; then
    if [ ! -f "$out/pretrain/manifest.json" ]; then
      "$avqa" generate --out "$out/pretrain" --videos 240 --seconds 5 --size 112 --seed 8 \
        --classes "$classes" --imbalance 0.5 --questions-per-video 1 --overwrite
    fi
    "$avqa" --threads "$threads" pretrain-backbones --data "$out/pretrain" --out "$out/weights" \
      --epochs 4 --size 112 --lr 5e-4
  fi
  if [ ! -f "$out/data/features.h5" ] || ! "$avqa" cache verify "$out/data/features.h5" >/dev/null 2>&1; then
    "$avqa" --threads "$threads" extract --videos "$out/data/videos" --out "$out/data/features.h5" \
      --seconds 3 --size 112 --visual-weights "$out/weights/resnet18.pt" \
      --audio-weights "$out/weights/vggish.pt" --resume
  fi
}
