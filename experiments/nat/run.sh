#!/usr/bin/env bash
# Mask-Predict (CMLM) students on raw, Seq-KD and Seq-Inter data of the whole training set, and the
# autoregressive students of the same shape on each of them, at one budget (STEPS optimiser steps of
# 4,096 target tokens). Every student starts from the teacher shrunk to 3/1 layers, as in
# experiments/protocol, is validated every STEPS/2 steps and keeps its best checkpoint; then it is evaluated
# on the whole test set with PyTorch (the CMLM at T = 1, 4, 10 with 5 length candidates, the AR greedy).
#
# Usage: STEPS=500 PARALLEL=2 bash experiments/nat/run.sh
#        RUNS="cmlm-raw ar-raw" bash experiments/nat/run.sh        (a subset)
#        OUT=runs/nat-copy RUNS="ar-seq_kd" bash experiments/nat/run.sh   (elsewhere than runs/nat)
# A finished run's metrics, test results and outputs are kept in docs/results/logs/nat/runs/NAME (when OUT is
# runs/nat), from which experiments.nat.table reads a run that runs/ no longer has.
# Needs runs/protocol/shrunk-3-1 and runs/protocol/data/seq-full (python -m experiments.protocol.run --stage 1 makes
# both). Resumable: a finished run is skipped, an interrupted one resumes from its last checkpoint.
set -euo pipefail
cd "$(dirname "$0")/../.."
export STEPS=${STEPS:-1500} THREADS=${THREADS:-1}
export OUT=${OUT:-runs/nat} DATA=../shared/data/bible-es-en
export SEQ=runs/protocol/data/seq-full INIT=runs/protocol/shrunk-3-1
RUNS=${RUNS:-"cmlm-raw cmlm-seq_kd cmlm-seq_inter ar-raw ar-seq_kd ar-seq_inter"}
mkdir -p "$OUT/logs"

one() {  # train, then evaluate, the run named KIND-SOURCE (kind: cmlm or ar; source: raw, seq_kd, seq_inter)
  set -euo pipefail  # `bash -c` below does not inherit the script's options
  local name=$1 kind=${1%%-*} source=${1#*-} run=$OUT/$1 train recipe resume=()
  train=$DATA/train.tsv; [ "$source" = raw ] || train=$SEQ/$source.tsv
  recipe=cmlm; [ "$kind" = ar ] && recipe=experiments/protocol/recipes/stage1_nll.yaml
  if [ ! -f "$run/final/manifest.json" ]; then
    [ -d "$run/checkpoints" ] && resume=(--resume)
    .venv/bin/kd train --recipe "$recipe" --set "name=$name" --set "output_dir=$run" \
      --set "student.init_from=$INIT" --set "data.train=$train" --set "max_steps=$STEPS" --set optim.lr=0.0005 \
      --set optim.warmup_steps=200 --set data.max_tokens=4096 --set data.valid_sentences=400 \
      --set "eval_every=$((STEPS / 2))" --set "checkpoint_every=$((STEPS / 2))" --set keep_best=true \
      --set log_every=50 --set "ray.torch_threads=$THREADS" "${resume[@]}" >>"$OUT/logs/train-$name.log" 2>&1
  fi
  if [ ! -f "$run/eval/results.json" ]; then
    local decoding=(--beams 1); [ "$kind" = cmlm ] && decoding=(--iterations 1,4,10 --length-beam 5)
    .venv/bin/kd evaluate --model "$run/final" --data "$DATA/test.tsv" --engine torch "${decoding[@]}" \
      --max-len 160 --threads "$THREADS" --out "$run/eval" >"$OUT/logs/eval-$name.log" 2>&1
  fi
  [ "$OUT" = runs/nat ] && .venv/bin/python -m experiments.run_records "$run" "docs/results/logs/nat/runs/$name"
  echo "[nat $(date +%H:%M:%S)] $name done"
}
export -f one
printf '%s\n' $RUNS | xargs -P "${PARALLEL:-1}" -I{} bash -c 'one "$1"' _ {}
