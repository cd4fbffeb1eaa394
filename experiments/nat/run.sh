#!/usr/bin/env bash
# Mask-Predict (CMLM) students on raw, Seq-KD and Seq-Inter data of the whole training set, each started from
# the teacher shrunk to 3/1 layers (the same start as the autoregressive students of experiments/protocol),
# then evaluated on the whole test set at T = 1, 4, 10 (5 length candidates).
# Usage: STEPS=1500 bash experiments/nat/run.sh     (after experiments/protocol's stage 1 made the data)
# Resumable: a finished run is skipped, an interrupted one resumes.
set -euo pipefail
cd "$(dirname "$0")/../.."
STEPS=${STEPS:-1500}
OUT=runs/nat
DATA=../shared/data/bible-es-en
SEQ=runs/protocol/data/seq-full
INIT=runs/protocol/shrunk-3-1
mkdir -p "$OUT/logs"
for source in raw seq_kd seq_inter; do
  train=$DATA/train.tsv
  [ "$source" = raw ] || train=$SEQ/$source.tsv
  run=$OUT/cmlm-$source
  if [ ! -f "$run/final/manifest.json" ]; then
    resume=(); [ -d "$run/checkpoints" ] && resume=(--resume)
    .venv/bin/kd train --recipe cmlm --set "name=cmlm-$source" --set "output_dir=$run" \
      --set "student.init_from=$INIT" --set "data.train=$train" --set "max_steps=$STEPS" \
      --set optim.warmup_steps=200 --set data.max_tokens=4096 --set eval_every=500 --set checkpoint_every=500 \
      --set log_every=50 "${resume[@]}" 2>&1 | tee -a "$OUT/logs/train-$source.log"
  fi
  if [ ! -f "$run/eval/results.json" ]; then
    .venv/bin/kd evaluate --model "$run/final" --data "$DATA/test.tsv" --iterations 1,4,10 --length-beam 5 \
      --max-len 160 --threads 1 --out "$run/eval" 2>&1 | tee "$OUT/logs/eval-$source.log"
  fi
done
