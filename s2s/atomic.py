"""Replacing a folder atomically: build it beside the target, then rename it into place.

Checkpoints and exports use this so that a reader never sees a half-written folder and an interrupted
write leaves the previous version intact.
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path


def swap_into_place(tmp: Path, out_dir: Path) -> None:
    """Move the finished folder `tmp` to `out_dir`, replacing (then deleting) an older `out_dir`."""
    if not out_dir.exists():
        os.rename(tmp, out_dir)
        return
    old = out_dir.with_name(f".{out_dir.name}.old-{os.getpid()}-{time.time_ns()}")
    os.rename(out_dir, old)
    os.rename(tmp, out_dir)
    shutil.rmtree(old, ignore_errors=True)
