#!/usr/bin/env bash
# Rewrite constraints.txt from .venv: run after changing pyproject.toml's dependencies and installing them
# (`.venv/bin/pip install -e ".[dev]"`), then rerun the tests and commit both files.
set -euo pipefail
cd "$(dirname "$0")/.."
{
  echo "# Exact versions of every package scripts/setup.sh installs (pip -c), written by scripts/lock.sh: a fresh"
  echo "# machine gets the environment CI and the recorded results ran on, not whatever the index offers that day"
  echo "# (a newer grpcio-tools once made the committed stubs read as stale). torch is pinned without its local"
  echo "# label, so a CUDA build of the same version (KD_TORCH_SPEC) satisfies it too."
  .venv/bin/python -m pip freeze --exclude-editable | sed -E 's/^(torch==[0-9.]+)\+[a-z0-9.]+$/\1/'
} > constraints.txt
echo "wrote constraints.txt ($(grep -vc '^#' constraints.txt) packages)"
