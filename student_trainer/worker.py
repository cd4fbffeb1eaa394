"""The training loop of one data-parallel worker (what Ray Train runs on every worker).

Setup order matters: the teacher's vocabulary is checked before anything is trained; the newest
checkpoint (after a worker failure or with `--resume`) is restored before the model is wrapped for
data parallelism. Then batches stream from the worker's shard with the teacher's answers requested
ahead, each step weighed for data parallelism (`data_parallel_scale`), checkpoints are reported every
`checkpoint_every` steps, and rank 0 evaluates and finally saves the student to `output_dir/final`.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn
from transformers.utils import logging as transformers_logging

from s2s.checkpoint import load_checkpoint, save_checkpoint
from s2s.tokenizer import Tokenizer
from student_trainer.batches import Batch
from student_trainer.metrics import MetricsLog
from student_trainer.objectives.driver import Objective
from student_trainer.on_policy import unwrap
from student_trainer.optimizer import build_optimizer
from student_trainer.prefetch import Prefetcher
from student_trainer.recipe import Recipe
from student_trainer.recipe_io import recipe_from_dict
from student_trainer.reporting import LocalReporter, RayReporter, Reporter, agree_and_count, agree_any
from student_trainer.state import (
    Progress,
    build_student,
    restore_training_checkpoint,
    save_training_checkpoint,
    student_manifest,
)
from student_trainer.step_guard import StepGuard
from student_trainer.stream import ShardStream
from student_trainer.teacher_link import TeacherAPI, WaitClock, cache_counts, connect_checked
from student_trainer.validation import Diagnostics, ValidSet, evaluate, load_valid

METRICS_FILE, FINAL_DIR, BEST_DIR = "metrics.jsonl", "final", "best"


def train_worker(config: dict[str, Any]) -> None:
    """Ray Train's `train_loop_per_worker`: `config["recipe"]` is the validated recipe as plain data."""
    import ray.train
    import ray.train.torch

    ctx = ray.train.get_context()
    loop = TrainLoop(config["recipe"], ctx.get_world_rank(), ctx.get_world_size(), ray.train.torch.get_device(),
                     RayReporter())
    loop.run(wrap=ray.train.torch.prepare_model)


def data_parallel_scale(local_tokens: int, global_tokens: int, world: int) -> float:
    """The weight of this worker's per-token mean: `local tokens · world / global tokens`.

    Every target token must weigh the same, however the tokens fall across workers: DDP averages the
    workers' gradients, so each back-propagates its mean times this factor, and the average is the mean
    over all their tokens together (one worker on the union of their batches). With one worker it is 1."""
    return local_tokens * world / global_tokens if global_tokens else 1.0


def run_local(recipe_data: dict[str, Any], device: str = "cpu") -> Progress:
    """The same loop in this process without Ray (tests, debugging); checkpoints in output_dir/local_checkpoints."""
    recipe = recipe_from_dict(recipe_data)
    reporter = LocalReporter(recipe.output_path / "local_checkpoints", recipe.keep_checkpoints)
    loop = TrainLoop(recipe_data, 0, 1, torch.device(device), reporter)
    return loop.run(wrap=lambda m: m.to(device))


@dataclass
class Session:
    """What one worker trains with, built once per (re)start."""

    tokenizer: Tokenizer
    model: nn.Module
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LRScheduler
    objective: Objective
    stream: ShardStream
    valid: ValidSet | None
    progress: Progress
    no_sync: Any = None


class TrainLoop:
    """State and steps of one worker's training run."""

    def __init__(self, recipe_data: dict[str, Any], rank: int, world: int, device: torch.device,
                 reporter: Reporter) -> None:
        self.recipe_data = recipe_data
        self.recipe: Recipe = recipe_from_dict(recipe_data)
        self.rank, self.world, self.device, self.reporter = rank, world, device, reporter
        self.out = self.recipe.output_path
        self.clock = WaitClock()
        self.log = MetricsLog(self.out / METRICS_FILE if rank == 0 else None, rank, self.recipe.max_steps or None)
        self.teacher: TeacherAPI | None = None
        self.teacher_id: str | None = None
        self.last_checkpoint_step = -1
        self._wait_mark = 0.0
        self.guard = StepGuard(self.recipe.optim.clip_norm, self.log)

    def run(self, wrap: Callable[[nn.Module], nn.Module]) -> Progress:
        """Set up, restore, train until the step or epoch budget is spent, then save the final student."""
        r = self.recipe
        transformers_logging.disable_progress_bar()
        if self.device.type == "cpu":
            torch.set_num_threads(r.ray.torch_threads or max(int(r.ray.cpus_per_worker), 1))
        tokenizer = Tokenizer(Path(r.student.tokenizer))
        if r.connects_teacher:  # before anything is trained: refuses a teacher with another vocabulary
            self.teacher, info = connect_checked(r.teacher, tokenizer.fingerprint)
            self.teacher_id = info.model_id
        try:
            s = self._session(tokenizer, wrap)
            while not self._finished(s.progress):
                self._epoch(s)
            self._finish(s)
            return s.progress
        finally:
            if self.teacher is not None:
                self.teacher.close()

    def _session(self, tokenizer: Tokenizer, wrap: Callable[[nn.Module], nn.Module]) -> Session:
        """Model, optimiser (restored from the newest checkpoint if any), objective, data."""
        r = self.recipe
        model: nn.Module = build_student(r.student, tokenizer)
        model.to(self.device)
        optimizer, scheduler = build_optimizer(model, r.optim)
        progress = self._restore(model, optimizer, scheduler, tokenizer)
        model = wrap(model)
        teacher_model = getattr(getattr(self.teacher, "checkpoint", None), "model", None)
        objective = Objective(r.loss, tokenizer.pad_id, self.teacher, self.clock, teacher_model,
                              seed=r.student.seed + self.rank, amp=self.device.type == "cuda",
                              eos_id=tokenizer.eos_id)
        return Session(tokenizer, model, optimizer, scheduler, objective,
                       ShardStream(r.data, tokenizer, self.rank, self.world, seed=r.student.seed),
                       load_valid(r.data, tokenizer) if self.rank == 0 else None, progress,
                       getattr(model, "no_sync", None) if self.world > 1 else None)

    def _finished(self, progress: Progress) -> bool:
        r = self.recipe
        if progress.stopped_early:
            return True
        return progress.step >= r.max_steps if r.max_steps else progress.epoch >= r.epochs

    def _epoch(self, s: Session) -> None:
        """Train on the rest of the current epoch, or until the step budget is spent."""
        request = s.objective.request if s.objective.prefetchable else None
        batches = s.stream.epoch(s.progress.epoch, skip=s.progress.batch_in_epoch)
        prefetch = Prefetcher(batches, request, self.recipe.teacher.prefetch)
        try:
            while not self._finished(s.progress):
                item = next(prefetch, None)
                every_worker, tokens = agree_and_count(item is not None, item[0].target_tokens if item else 0,
                                                       self.device)
                if not every_worker or item is None:
                    self.log.event("epoch_end", epoch=s.progress.epoch, step=s.progress.step,
                                   skipped_rows=s.stream.skipped_rows)
                    s.progress.epoch, s.progress.batch_in_epoch = s.progress.epoch + 1, 0
                    return
                self._step(s, item[0], item[1], tokens)
        finally:
            prefetch.close()

    def _step(self, s: Session, batch: Batch, future: Future[Any] | None, tokens: int) -> None:
        scale = data_parallel_scale(batch.target_tokens, tokens, self.world)
        parts = s.objective.step(s.model, batch, future, self.device, s.no_sync, scale)
        p = s.progress
        if not self.guard.step(s.model, s.optimizer, s.scheduler, parts["loss"], p.step, self.device):
            p.batch_in_epoch += 1  # skipped (non-finite): the batch is consumed, no step is counted
            return
        p.step, p.batch_in_epoch, p.target_tokens = p.step + 1, p.batch_in_epoch + 1, p.target_tokens + tokens
        self.log.add(parts, tokens)
        r = self.recipe
        if p.step % r.log_every == 0:
            cache = cache_counts(self.teacher.stats()) if self.teacher is not None else (0, 0)
            self.log.emit(p.step, p.epoch, float(s.scheduler.get_last_lr()[0]), self._wait_delta(), cache)
        if r.eval_every and p.step % r.eval_every == 0:
            with self.log.paused():
                self._validate(s)
        if p.step % r.checkpoint_every == 0:
            with self.log.paused():
                self._checkpoint(s)

    def _diagnostics(self) -> Diagnostics | None:
        r = self.recipe
        if not r.diagnostics.enabled or self.teacher is None:
            return None
        return Diagnostics(self.teacher, *r.diagnostic_sizes)

    def _validate(self, s: Session) -> None:
        """Evaluate on rank 0, track the best valid BLEU (saving it with `keep_best`), stop on `patience`."""
        r, p = self.recipe, s.progress
        improved = False
        if s.valid is not None:
            result = evaluate(s.model, s.tokenizer, s.valid, self.device, r.data.max_len, self._diagnostics())
            self.log.event("eval", step=p.step, **result)
            bleu = float(result.get("valid_bleu", 0.0))
            improved = p.best_bleu is None or bleu > p.best_bleu
            if improved:
                p.best_bleu, p.best_step, p.evals_since_best = bleu, p.step, 0
                if r.keep_best:
                    plain = unwrap(s.model)
                    save_checkpoint(plain, s.tokenizer, self.out / BEST_DIR, student_manifest(
                        r, self.recipe_data, s.tokenizer, plain, f"{r.name}-best", self.teacher_id,
                        {"step": p.step, **result}))
            else:
                p.evals_since_best += 1
        stop = bool(r.patience) and s.valid is not None and p.evals_since_best >= r.patience
        if agree_any(stop, self.device):
            p.stopped_early = True
            self.log.event("early_stop", step=p.step, best_step=p.best_step, best_valid_bleu=p.best_bleu,
                           patience=r.patience)

    def _wait_delta(self) -> float:
        """Seconds blocked on the teacher since the previous interval line."""
        delta = self.clock.seconds - self._wait_mark
        self._wait_mark = self.clock.seconds
        return delta

    def _restore(self, model: nn.Module, optimizer: Any, scheduler: Any, tokenizer: Tokenizer) -> Progress:
        with self.reporter.latest_checkpoint() as folder:
            if folder is None:
                self.log.event("start", rank=self.rank, world=self.world, pid=os.getpid(), device=str(self.device),
                               teacher=self.teacher_id)
                return Progress()
            progress = restore_training_checkpoint(folder, model, optimizer, scheduler, tokenizer)
        self.last_checkpoint_step = progress.step
        self.log.event("resume", from_step=progress.step, epoch=progress.epoch, rank=self.rank,
                       world=self.world, pid=os.getpid(), teacher=self.teacher_id)
        return progress

    def _checkpoint(self, s: Session) -> None:
        """Every worker reports; rank 0 attaches the checkpoint folder."""
        p = s.progress
        metrics = {"step": p.step, "epoch": p.epoch}
        with tempfile.TemporaryDirectory(prefix="kd-ckpt-") as tmp:
            folder = None
            if self.rank == 0:
                plain = unwrap(s.model)
                manifest = student_manifest(self.recipe, self.recipe_data, s.tokenizer, plain,
                                            f"{self.recipe.name}-step{p.step}", self.teacher_id, metrics)
                folder = save_training_checkpoint(Path(tmp), plain, s.tokenizer, s.optimizer, s.scheduler, p,
                                                  manifest)
            self.reporter.report(metrics, folder)
        self.last_checkpoint_step = p.step
        self.log.event("checkpoint", step=p.step, epoch=p.epoch)

    def _finish(self, s: Session) -> None:
        """Checkpoint the last step, then (rank 0) evaluate and save `output_dir/final` with its manifest."""
        if self.last_checkpoint_step != s.progress.step:
            self._checkpoint(s)
        if self.rank != 0:
            return
        r, p, plain = self.recipe, s.progress, unwrap(s.model)
        metrics: dict[str, Any] = {"steps": p.step, "epochs": p.epoch, "target_tokens": p.target_tokens}
        if r.keep_best and (self.out / BEST_DIR / "config.json").is_file():
            best = load_checkpoint(self.out / BEST_DIR, expected_fingerprint=s.tokenizer.fingerprint)
            plain.load_state_dict(best.model.state_dict())
            metrics.update({"best_step": p.best_step, "stopped_early": p.stopped_early})
        if s.valid is not None:
            metrics.update(evaluate(s.model, s.tokenizer, s.valid, self.device, r.data.max_len, self._diagnostics()))
        manifest = student_manifest(r, self.recipe_data, s.tokenizer, plain, r.name, self.teacher_id, metrics)
        save_checkpoint(plain, s.tokenizer, self.out / FINAL_DIR, manifest)
        teacher = self.teacher.stats() if self.teacher is not None else None  # calls, cache and store hits, seconds
        self.log.event("end", final=str(self.out / FINAL_DIR), **metrics, teacher_stats=teacher)
