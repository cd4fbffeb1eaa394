"""Training progress: one line per `log_every` steps and the same numbers as JSON lines in `metrics.jsonl`.

Each interval line reports the loss parts, student throughput (target tokens per second over all
workers), the time the loop spent blocked on the teacher, and the teacher cache's hit rate over the
interval; with a step budget, also the steps done and the time left at the interval's pace, so that a long
run says when it will end. Time spent validating or saving checkpoints (`paused()`) is left out of the
interval, so neither throughput nor the time left counts it as training. Events (start, resume, checkpoint,
evaluation, end) go to the same JSONL file, so a run's history survives restarts: a restarted worker
appends to it.
"""

from __future__ import annotations

import json
import sys
import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any


class MetricsLog:
    """Averages per-step loss parts over an interval and writes interval records and events."""

    def __init__(self, path: Path | None, rank: int, total_steps: int | None = None) -> None:
        self.path, self.rank, self.total_steps = path, rank, total_steps
        self._sums: dict[str, float] = defaultdict(float)
        self._steps = 0
        self._tokens = 0
        self._start = time.perf_counter()
        self._paused = 0.0
        self._cache = (0, 0)

    def add(self, parts: dict[str, float], target_tokens: int) -> None:
        """Record one step's loss parts (this worker's) and its target tokens (all workers')."""
        for key, value in parts.items():
            self._sums[key] += value
        self._steps += 1
        self._tokens += target_tokens

    def emit(self, step: int, epoch: int, lr: float, wait_s: float, cache: tuple[int, int]) -> dict[str, Any]:
        """Close the interval: print one line (rank 0), append a JSON record, reset the sums."""
        seconds = max(time.perf_counter() - self._start - self._paused, 1e-9)
        hits, misses = cache[0] - self._cache[0], cache[1] - self._cache[1]
        record: dict[str, Any] = {"event": "train", "step": step, "epoch": epoch, "lr": lr,
                                  **{k: v / max(self._steps, 1) for k, v in self._sums.items()},
                                  "tokens_per_s": self._tokens / seconds, "teacher_wait_s": wait_s,
                                  "teacher_wait_frac": wait_s / seconds,
                                  "cache_hit_rate": hits / (hits + misses) if hits + misses else None,
                                  "interval_s": seconds, "time": time.time()}
        if self.total_steps:
            left = max(self.total_steps - step, 0)
            record["eta_s"] = left * seconds / max(self._steps, 1)
        self._print(record)
        self._write(record)
        self._sums.clear()
        self._steps, self._tokens, self._start, self._paused, self._cache = 0, 0, time.perf_counter(), 0.0, cache
        return record

    @contextmanager
    def paused(self) -> Iterator[None]:
        """Leave the time inside the block (a validation, a checkpoint) out of the current interval."""
        began = time.perf_counter()
        try:
            yield
        finally:
            self._paused += time.perf_counter() - began

    def event(self, name: str, **fields: Any) -> None:
        """Append an event record (and print it on rank 0)."""
        record = {"event": name, **fields, "time": time.time()}
        if self.rank == 0:
            _say(f"[trainer] {name}: " + ", ".join(f"{k}={_fmt(v)}" for k, v in fields.items()))
        self._write(record)

    def _print(self, r: dict[str, Any]) -> None:
        if self.rank != 0:
            return
        parts = " ".join(f"{k} {r[k]:.4f}" for k in ("loss", "nll", "distill") if k in r)
        hit = "-" if r["cache_hit_rate"] is None else f"{100 * r['cache_hit_rate']:.0f}%"
        _say(f"[trainer] step {r['step']} epoch {r['epoch']} | {parts} | lr {r['lr']:.2e} | "
             f"{r['tokens_per_s']:.0f} tok/s | teacher wait {r['teacher_wait_s']:.2f}s "
             f"({100 * r['teacher_wait_frac']:.0f}%) | cache hit {hit}{self._left(r)}")

    def _left(self, r: dict[str, Any]) -> str:
        """" | 200/2500 steps (8%), about 44 min left", or nothing without a step budget."""
        if "eta_s" not in r or not self.total_steps:
            return ""
        done = 100 * r["step"] / self.total_steps
        left = format_duration(r["eta_s"])
        return f" | {r['step']}/{self.total_steps} steps ({done:.0f}%), about {left} left"

    def _write(self, record: dict[str, Any]) -> None:
        if self.path is None or self.rank != 0:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a", encoding="utf-8") as f:
            f.write(json.dumps(record) + "\n")


def _say(line: str) -> None:
    """One progress line on stdout (written directly: Ray Train's patched `print` would echo it twice)."""
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def format_duration(seconds: float) -> str:
    """`42 s`, `7 min`, `1 h 05 min`: how people read a remaining time."""
    if seconds < 60:
        return f"{seconds:.0f} s"
    minutes = round(seconds / 60)
    return f"{minutes} min" if minutes < 60 else f"{minutes // 60} h {minutes % 60:02d} min"


def _fmt(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def read_metrics(path: Path) -> list[dict[str, Any]]:
    """All records of a `metrics.jsonl` file (empty when it does not exist yet)."""
    if not Path(path).is_file():
        return []
    lines = Path(path).read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]
