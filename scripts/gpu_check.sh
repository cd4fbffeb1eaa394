#!/usr/bin/env bash
# The first minutes on a GPU, at most 5: the teacher's engines on CUDA (PyTorch, and CTranslate2 where it is
# installed with CUDA libraries), dynamic batching at 8 clients, and a 50-step Word-KD run of the trainer on
# the GPU, each timed, with the device's name; results in bench/results/gpu-check.json (bench/gpu_check.py).
#
#   bash scripts/gpu_check.sh              on the GPU machine
#   bash scripts/gpu_check.sh --dry-run    the same steps on the CPU at toy sizes, in seconds (a test runs it)
#   bash scripts/gpu_check.sh --prepare    here, with network and ../shared: copy the teacher and corpus into
#                                          .gpu-assets/ and download the wheels a bare GPU image lacks into
#                                          .whl/ (both git-ignored), for a machine that has neither
#
# Python: KD_PYTHON, else .venv/bin/python (scripts/setup.sh; on a GPU machine with network run it with
# KD_TORCH_SPEC naming a CUDA build of torch), else python3 (a GPU image's own torch). Wheels in KD_WHEELS
# (default .whl/) are installed offline into /tmp/kd-site first. KD_GPU_CHECK_LIMIT_S caps the run (300);
# KD_GPU_CHECK_TEACHER, KD_GPU_CHECK_DATA and KD_GPU_CHECK_OUT override the teacher, corpus and results file.
# A bare GPU image without network (python 3.12, torch, transformers, grpcio, but no ray, redis-py,
# grpcio-health-checking, grpcio-reflection or ctranslate2) runs it after --prepare here, carrying
# .gpu-assets and .whl (about 33 MiB; ctranslate2's 40 MiB wheel does not fit beside them, so CTranslate2
# is measured on GPU machines set up with scripts/setup.sh only).
set -euo pipefail
cd "$(dirname "$0")/.."

mode=run
for arg in "$@"; do
  case "$arg" in
    --dry-run) mode=dry ;;
    --prepare) mode=prepare ;;
    -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
    *) echo "gpu_check.sh: unknown argument $arg (see --help)" >&2; exit 2 ;;
  esac
done
[ "${KD_GPU_CHECK_DRY_RUN:-0}" = 1 ] && mode=dry

PY=${KD_PYTHON:-}
if [ -z "$PY" ]; then
  if [ -x .venv/bin/python ]; then PY=.venv/bin/python; else PY=python3; fi
fi

if [ "$mode" = prepare ]; then
  SHARED=${KD_SHARED:-../shared}
  [ -d "$SHARED/models/teacher-bible-es-en-small" ] || { echo "gpu_check.sh: no $SHARED/models" >&2; exit 2; }
  mkdir -p .gpu-assets/data
  rm -rf .gpu-assets/teacher && cp -rL "$SHARED/models/teacher-bible-es-en-small" .gpu-assets/teacher
  chmod -R u+w .gpu-assets
  cp "$SHARED/data/bible-es-en/valid.tsv" .gpu-assets/data/
  head -n 20001 "$SHARED/data/bible-es-en/train.tsv" > .gpu-assets/data/train.tsv
  pin() { grep -i "^$1==" constraints.txt; }
  rm -rf .whl && mkdir -p .whl
  "$PY" -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 -d .whl \
    "$(pin grpcio)" "$(pin grpcio-health-checking)" "$(pin grpcio-reflection)" "$(pin protobuf)" "$(pin redis)"
  exclude=$(git rev-parse --git-path info/exclude)
  for ignored in /.gpu-assets/ /.whl/; do
    grep -qxF "$ignored" "$exclude" 2>/dev/null || echo "$ignored" >> "$exclude"
  done
  du -sh .gpu-assets .whl
  echo "prepared: carry .gpu-assets and .whl, then run: bash scripts/gpu_check.sh"
  exit 0
fi

WHEELS=${KD_WHEELS:-.whl}
if [ "$mode" = run ] && compgen -G "$WHEELS/*.whl" > /dev/null; then
  if "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/kd-site \
      "$WHEELS"/*.whl; then
    export PYTHONPATH=/tmp/kd-site${PYTHONPATH:+:$PYTHONPATH}
  else
    echo "gpu_check.sh: the wheels in $WHEELS do not install for $("$PY" --version) (--prepare makes them for" \
         "Python 3.12); going on without them" >&2
  fi
fi
export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH} PYTHONUNBUFFERED=1
flags=()
[ "$mode" = dry ] && flags+=(--dry-run)
timeout --signal=TERM --kill-after=10 "${KD_GPU_CHECK_LIMIT_S:-300}" "$PY" -m bench.gpu_check "${flags[@]}"
