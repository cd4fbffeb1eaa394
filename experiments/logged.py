"""Run one step of an experiment driver as a child process, its command line and output appended to a log."""

from __future__ import annotations

import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def call_logged(argv: list[str], log: Path) -> None:
    """Run `argv` from the repository root, appending `$ argv` and its output to `log`; a failure raises
    naming the command and the log, so that a driver stops at the step that broke."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("a", encoding="utf-8") as f:
        f.write(f"\n$ {' '.join(argv)}\n")
        f.flush()
        code = subprocess.run(argv, cwd=REPO, stdout=f, stderr=subprocess.STDOUT).returncode
    if code != 0:
        raise RuntimeError(f"exit code {code}: {' '.join(argv[:6])} ...; see {log}")
