#!/usr/bin/env bash
# One-time set-up on a fresh Debian/Ubuntu machine (idempotent: a second run only checks).
# System packages (redis-server, docker-compose, chromium, ...), a virtualenv in .venv with the CPU build of
# PyTorch and the project with its dev tools.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install_system_deps.sh

PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  echo "== creating .venv with $($PY --version)"
  "$PY" -m venv .venv
fi
. .venv/bin/activate
python -m pip install --quiet --upgrade pip
# Pin the CPU wheel first: an unpinned torch (or a range excluding 2.13.0) pulls GBs of CUDA packages.
# On a GPU machine, set KD_TORCH_SPEC (e.g. "torch==2.13.0 --index-url https://.../cu128") before running.
python -m pip install --quiet ${KD_TORCH_SPEC:-torch==2.13.0}
# constraints.txt holds the exact versions CI ran on, so a fresh machine installs the same environment.
python -m pip install --quiet -c constraints.txt -e ".[dev]"
echo "== set-up done: $(python -c 'import torch, ray, transformers; print(f"torch {torch.__version__}, ray {ray.__version__}, transformers {transformers.__version__}")')"
