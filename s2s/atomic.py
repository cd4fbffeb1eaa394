"""Replacing a folder or a file atomically: build it beside the target, then rename it into place.

Checkpoints, exports and distilled corpora use this so that a reader never sees a half-written artefact
and an interrupted write leaves the previous version intact.
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


def write_text_atomic(path: Path, text: str) -> None:
    """Write `text` (UTF-8) to `path` through a temporary sibling renamed into place (never a half file).

    The temporary file is opened like any new file, so the result gets the usual umask permissions
    (`tempfile.mkstemp` would leave it readable by its owner only).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}-{time.time_ns()}.tmp")
    try:
        with tmp.open("x", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
