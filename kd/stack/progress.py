"""Progress of a training job on the console, read from the job's log while it runs.

The trainer prints `[trainer] step N epoch E | loss L ... | T tok/s | ...` every `log_every` steps into the
job's log (which `kd up` keeps in a file). `TrainProgress` follows that file and turns each new line into
one short console line with the step, loss, throughput and an estimate of the time left, so that a
20-minute distillation is not 20 silent minutes.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from student_trainer.metrics import format_duration

STEP_LINE = re.compile(r"\[trainer\] step (\d+) epoch (\d+) \| loss ([\d.]+).*?\| ([\d.]+) tok/s")
EVAL_LINE = re.compile(r"\[trainer\] eval: step=(\d+), .*?valid_bleu=([\d.]+)")


@dataclass(frozen=True)
class StepReport:
    """One progress point of the job."""

    step: int
    loss: float
    tokens_per_s: float
    seconds_left: float | None


class TrainProgress:
    """Follows a trainer log and reports every new step line (and validation) through `say`."""

    def __init__(self, log: Path, total_steps: int, say: Callable[[str], None],
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.log, self.total, self.say, self.clock = Path(log), total_steps, say, clock
        self._offset = 0
        self._first: tuple[int, float] | None = None

    def poll(self) -> list[StepReport]:
        """Read what the log gained since the last poll; say one line per step report."""
        if not self.log.is_file():
            return []
        with self.log.open("r", encoding="utf-8", errors="replace") as f:
            f.seek(self._offset)
            text = f.read()
        complete = text[: text.rfind("\n") + 1]
        self._offset += len(complete.encode("utf-8"))
        reports = []
        for line in complete.splitlines():
            if match := STEP_LINE.search(line):
                reports.append(self._step(int(match.group(1)), float(match.group(3)), float(match.group(4))))
            elif match := EVAL_LINE.search(line):
                self.say(f"  validation at step {match.group(1)}: BLEU {float(match.group(2)):.1f} (400 verses)")
        return reports

    def _step(self, step: int, loss: float, tokens_per_s: float) -> StepReport:
        now = self.clock()
        if self._first is None:
            self._first = (step, now)
        first_step, first_time = self._first
        left = None
        if step > first_step:
            left = (now - first_time) / (step - first_step) * max(self.total - step, 0)
        pct = 100 * step / max(self.total, 1)
        eta = f", about {format_duration(left)} left" if left is not None else ""
        self.say(f"  step {step}/{self.total} ({pct:.0f}%) | loss {loss:.3f} | {tokens_per_s:,.0f} tokens/s{eta}")
        return StepReport(step, loss, tokens_per_s, left)
