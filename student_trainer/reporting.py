"""How a training loop talks to its harness: checkpoints in and out, and agreement between workers.

`RayReporter` is the production path: checkpoints go through `ray.train.report` (Ray Train copies them
into the run's storage and hands the latest back to restarted workers via `ray.train.get_checkpoint`).
`LocalReporter` runs the same loop in the current process without Ray (unit tests of loss paths,
debugging), keeping checkpoints in a folder. The collective helpers let data-parallel workers agree on
when an epoch ends (shards may hold different numbers of batches) and sum their token counts.
"""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol

import torch
import torch.distributed as dist


class Reporter(Protocol):
    """Checkpoint storage as seen from inside a training worker."""

    def latest_checkpoint(self) -> contextlib.AbstractContextManager[Path | None]: ...
    def report(self, metrics: dict[str, Any], checkpoint_dir: Path | None) -> None: ...


COMMIT_TIMEOUT_S = 120.0


class RayReporter:
    """Checkpoints through Ray Train (every worker must call `report` the same number of times)."""

    @contextlib.contextmanager
    def latest_checkpoint(self) -> Iterator[Path | None]:
        import ray.train

        checkpoint = ray.train.get_checkpoint()
        if checkpoint is None:
            yield None
            return
        with checkpoint.as_directory() as folder:
            yield Path(folder)

    def report(self, metrics: dict[str, Any], checkpoint_dir: Path | None) -> None:
        """Report, then wait until Ray Train has committed the report (at most `COMMIT_TIMEOUT_S`): its
        controller collects reports only every health-check interval, and a worker that died before that
        would lose a checkpoint it had already written, and with it a whole checkpoint interval of steps.
        Once this returns, a restart resumes from this checkpoint at the latest."""
        import ray.train

        checkpoint = ray.train.Checkpoint.from_directory(str(checkpoint_dir)) if checkpoint_dir else None
        ray.train.report(metrics, checkpoint=checkpoint)
        ray.train.get_all_reported_checkpoints(consistency_mode=ray.train.CheckpointConsistencyMode.COMMITTED,
                                               timeout_s=COMMIT_TIMEOUT_S)


class LocalReporter:
    """Checkpoints as `step_NNNNNNNN` folders under `root`, the newest `keep` kept (single process)."""

    def __init__(self, root: Path, keep: int = 2) -> None:
        self.root, self.keep = Path(root), keep

    @contextlib.contextmanager
    def latest_checkpoint(self) -> Iterator[Path | None]:
        found = sorted(self.root.glob("step_*")) if self.root.is_dir() else []
        yield found[-1] if found else None

    def report(self, metrics: dict[str, Any], checkpoint_dir: Path | None) -> None:
        if checkpoint_dir is None:
            return
        self.root.mkdir(parents=True, exist_ok=True)
        target = self.root / f"step_{int(metrics['step']):08d}"
        shutil.rmtree(target, ignore_errors=True)
        shutil.copytree(checkpoint_dir, target)
        for old in sorted(self.root.glob("step_*"))[: -self.keep]:
            shutil.rmtree(old, ignore_errors=True)


def _distributed() -> bool:
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def agree_and_count(has_batch: bool, tokens: int, device: torch.device) -> tuple[bool, int]:
    """Whether every worker has a batch for this step, and the target tokens of all their batches.

    One tiny all-reduce per step (free with a single worker): workers whose shard ran out end the epoch
    for everybody, so that no worker waits forever in a gradient all-reduce.
    """
    if not _distributed():
        return has_batch, tokens if has_batch else 0
    value = torch.tensor([0 if has_batch else 1, tokens if has_batch else 0], device=device, dtype=torch.long)
    dist.all_reduce(value, op=dist.ReduceOp.SUM)
    return int(value[0].item()) == 0, int(value[1].item())


def agree_any(flag: bool, device: torch.device) -> bool:
    """Whether any worker raised `flag` (rank 0's early-stopping decision reaches every worker)."""
    if not _distributed():
        return flag
    value = torch.tensor([1 if flag else 0], device=device, dtype=torch.long)
    dist.all_reduce(value, op=dist.ReduceOp.MAX)
    return bool(value.item())
