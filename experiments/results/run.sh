#!/usr/bin/env bash
# Reproduces docs/results-2026-11-22.md: every student-tiny recipe distilled from the reference teacher with the same
# step budget on the same low-resource subset (8,000 verses), evaluated on the full Bible test set.
# Usage: bash experiments/results/run.sh [STEPS]   (after scripts/setup.sh; about an hour on 2 quiet cores)
# Logs and checkpoints go to runs/results/; experiments.results.table prints that document's table.
set -euo pipefail
cd "$(dirname "$0")/../.."
. .venv/bin/activate
STEPS=${1:-600}
EVAL_LIMIT=${EVAL_LIMIT:-500}   # first N test verses: weak students decode slowly on 2 cores
BEAMS=${BEAMS:-1}               # BEAMS=1,5 adds beam search
TEACHER=$(cd ../shared/models/teacher-bible-es-en-small && pwd)
OUT=runs/results
free_port() { python -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
REDIS_PORT=${REDIS_PORT:-$(free_port)}      # fresh services on free ports unless given: never somebody else's
TEACHER_PORT=${TEACHER_PORT:-$(free_port)}
mkdir -p "$OUT/logs" "$OUT/data"

if ! redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1; then
  redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save "" --appendonly no --maxmemory 1gb \
    --maxmemory-policy allkeys-lru >"$OUT/logs/redis.log" 2>&1 &
fi
if ! python -m services.teacher.healthcheck --target "127.0.0.1:$TEACHER_PORT" >/dev/null 2>&1; then
  python -m services.teacher --model "$TEACHER" --port "$TEACHER_PORT" --host 127.0.0.1 \
    --redis-url "redis://127.0.0.1:$REDIS_PORT/0" >"$OUT/logs/teacher.log" 2>&1 &
  until python -m services.teacher.healthcheck --target "127.0.0.1:$TEACHER_PORT" >/dev/null 2>&1; do sleep 2; done
fi

python -m experiments.results.make_subset --data ../shared/data/bible-es-en/train.tsv --out "$OUT/data/train8k.tsv"
seq_data() {  # the Seq-KD / Seq-Inter corpora, made once, before the first run that needs them
  if [ ! -f "$OUT/data/seq8k/seq_inter.tsv" ]; then
    kd distill-data --teacher "127.0.0.1:$TEACHER_PORT" --data "$OUT/data/train8k.tsv" --out "$OUT/data/seq8k" \
      --beam 5 --nbest 5 2>&1 | tee "$OUT/logs/distill-data.log"
  fi
}

COMMON=(--set "max_steps=$STEPS" --set optim.warmup_steps=100 --set optim.lr=0.002 --set data.max_tokens=2048 --set eval_every=0
        --set "checkpoint_every=$STEPS" --set "teacher.endpoints=127.0.0.1:$TEACHER_PORT")
train() {  # name recipe [extra --set ...]
  local name=$1 recipe=$2; shift 2
  if [ ! -f "$OUT/$name/final/manifest.json" ]; then
    rm -rf "${OUT:?}/$name"
    kd train --recipe "student_trainer/recipes/$recipe.yaml" --set "name=$name" --set "output_dir=$OUT/$name" \
      --set "data.train=$OUT/data/train8k.tsv" "${COMMON[@]}" "$@" 2>&1 | tee "$OUT/logs/train-$name.log"
  fi
  if [ ! -f "$OUT/$name/eval/results.json" ]; then
    kd evaluate --model "$OUT/$name/final" --data ../shared/data/bible-es-en/test.tsv --beams "$BEAMS" \
      --limit "$EVAL_LIMIT" --max-len 160 --out "$OUT/$name/eval" 2>&1 | tee "$OUT/logs/eval-$name.log"
  fi
}
for name in ${RUNS:-nll word_kd ka seq_kd jsd seq_inter seq_kd_word_kd}; do
  case $name in
    seq_kd|seq_kd_word_kd) seq_data; train "$name" "$name" --set "data.train=$OUT/data/seq8k/seq_kd.tsv" ;;
    seq_inter) seq_data; train "$name" "$name" --set "data.train=$OUT/data/seq8k/seq_inter.tsv" ;;
    *) train "$name" "$name" ;;
  esac
done
python -m experiments.results.table --runs "$OUT" --steps "$STEPS"
