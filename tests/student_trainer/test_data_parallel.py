"""Two data-parallel workers (real processes, gloo) take the same step as one worker on both batches, for the
NLL and for the distillation losses that ask the real teacher server (Word-KD: its TopK; KA: its Score of
the student's own candidates); and they skip a non-finite step together.

One pair of worker processes computes every case (starting interpreters is the expensive part).
"""

from __future__ import annotations

import faulthandler
import math
import multiprocessing
import os
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel

from s2s.presets import build_model
from s2s.tokenizer import Tokenizer
from student_trainer.batches import Batch
from student_trainer.objectives.driver import Objective
from student_trainer.objectives.registry import make_settings
from student_trainer.objectives.settings import ObjectiveSettings
from student_trainer.optimizer import build_optimizer
from student_trainer.recipe import OptimSpec
from student_trainer.step_guard import StepGuard
from student_trainer.teacher_link import WaitClock
from student_trainer.worker import data_parallel_scale

from .conftest import free_port

# (case name, loss, whether each worker's mean is weighted by its share of all tokens)
CASES: list[tuple[str, ObjectiveSettings, bool]] = [
    ("nll", make_settings("nll", label_smoothing=0.1), True),
    ("nll-unweighted", make_settings("nll", label_smoothing=0.1), False),
    ("word_kd", make_settings("word_kd", alpha=0.7, k=6), True),
    ("ka", make_settings("ka", lam=0.6, k_prime=4), True),
]


def _batches(tokenizer: Tokenizer, bible_dir: Path) -> list[Batch]:
    """Two batches with very different token counts (3 long verses, 9 short ones)."""
    lines = [line.split("\t") for line in (bible_dir / "valid.tsv").read_text().splitlines()[1:40]]
    lines.sort(key=lambda row: len(row[2]))
    chosen = [lines[-3:], lines[:9]]
    return [Batch([tokenizer.encode_source(r[1], 64) for r in rows], [tokenizer.encode_target(r[2], 64) for r in rows])
            for rows in chosen]


def _grads(model: Any) -> dict[str, torch.Tensor]:
    return {n: p.grad.detach().clone() for n, p in model.named_parameters() if p.grad is not None}


def _teacher(endpoint: str, spec: ObjectiveSettings) -> Any:
    if spec.kind == "nll":
        return None
    from teacher_client import TeacherClient

    return TeacherClient(endpoint, timeout_s=60)


def _worker(rank: int, port: int, tokenizer: Tokenizer, batches: list[Batch], endpoint: str, out: Path) -> None:
    faulthandler.dump_traceback_later(150, exit=True)  # a hung rank prints where it hangs into the test's report
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    torch.set_num_threads(1)
    dist.init_process_group("gloo", rank=rank, world_size=2, timeout=timedelta(seconds=90))
    try:
        results: dict[str, Any] = {name: _ddp_step(rank, tokenizer, batches, spec, endpoint, weighted)
                                   for name, spec, weighted in CASES}
        guard = _guarded_steps(rank, tokenizer, batches)
        torch.save({**results, "guard": [guard]} if rank == 0 else guard, out if rank == 0 else out.with_suffix(".1"))
        dist.barrier()
    finally:
        dist.destroy_process_group()


def _ddp_step(rank: int, tokenizer: Tokenizer, batches: list[Batch], spec: ObjectiveSettings, endpoint: str,
              weighted: bool) -> dict[str, torch.Tensor]:
    """This rank's step; the DDP wrapper (and its reducer) is freed on return, while the process group still
    exists: freeing it after `destroy_process_group` hung one rank now and then in C++ teardown."""
    model = build_model("test-micro", tokenizer, seed=3).train()
    ddp = DistributedDataParallel(model)
    teacher = _teacher(endpoint, spec)
    try:
        objective = Objective(spec, tokenizer.pad_id, teacher, WaitClock())
        total = sum(b.target_tokens for b in batches)
        scale = data_parallel_scale(batches[rank].target_tokens, total, 2) if weighted else 1.0
        objective.step(ddp, batches[rank], None, torch.device("cpu"), ddp.no_sync, scale)
    finally:
        if teacher is not None:
            teacher.close()
    return _grads(model)


def _guarded_steps(rank: int, tokenizer: Tokenizer, batches: list[Batch]) -> dict[str, Any]:
    """A finite step, then a step whose loss only rank 1 sees as NaN: both ranks must skip it together."""
    model = build_model("test-micro", tokenizer, seed=3).train()
    ddp = DistributedDataParallel(model)
    optimizer, scheduler = build_optimizer(model, OptimSpec(lr=1e-3, warmup_steps=1))
    objective = Objective(make_settings("nll"), tokenizer.pad_id, None, WaitClock())
    guard, taken = StepGuard(clip_norm=1.0), []
    for step in range(2):
        loss = objective.step(ddp, batches[rank], None, torch.device("cpu"), ddp.no_sync)["loss"]
        taken.append(guard.step(model, optimizer, scheduler, math.nan if step == 1 and rank == 1 else loss, step))
    return {"taken": taken, "weights": {k: v.clone() for k, v in model.state_dict().items()}}


@pytest.fixture(scope="module")
def two_workers(tokenizer: Tokenizer, bible_dir: Path, teacher_endpoint: str,
                tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Every case's gradients from rank 0 of one two-worker run (each rank on its own batch)."""
    batches = _batches(tokenizer, bible_dir)
    out = tmp_path_factory.mktemp("ddp") / "grads.pt"
    context = multiprocessing.get_context("spawn")
    port = free_port()
    # Spawned, not forked: a fork of this test process inherits the threads earlier tests left behind (gRPC,
    # Ray, OpenMP), and a child forked mid-lock can hang at exit. Daemonic and killed in `finally` so that a
    # hung rank fails this test instead of holding pytest open at interpreter exit.
    workers = [context.Process(target=_worker, args=(rank, port, tokenizer, batches, teacher_endpoint, out),
                               daemon=True) for rank in range(2)]
    try:
        for w in workers:
            w.start()
        for w in workers:
            w.join(timeout=180)
        assert [w.exitcode for w in workers] == [0, 0], "a data-parallel rank failed or hung (exit codes above)"
    finally:
        for w in workers:
            if w.is_alive():
                w.kill()
                w.join(timeout=10)
    results = dict(torch.load(out, weights_only=True))
    results["guard"].append(torch.load(out.with_suffix(".1"), weights_only=True))
    return results


def _single_worker(tokenizer: Tokenizer, batches: list[Batch], spec: ObjectiveSettings,
                   endpoint: str) -> dict[str, Any]:
    model = build_model("test-micro", tokenizer, seed=3).train()
    teacher = _teacher(endpoint, spec)
    try:
        union = Batch(batches[0].src + batches[1].src, batches[0].tgt + batches[1].tgt)
        Objective(spec, tokenizer.pad_id, teacher, WaitClock()).step(model, union, None, torch.device("cpu"))
    finally:
        if teacher is not None:
            teacher.close()
    return _grads(model)


@pytest.mark.parametrize("case", ["nll", "word_kd", "ka"])
def test_two_workers_step_like_one_worker_on_the_union_of_their_batches(
        case: str, two_workers: dict[str, Any], tokenizer: Tokenizer, bible_dir: Path, teacher_endpoint: str) -> None:
    batches = _batches(tokenizer, bible_dir)
    assert batches[0].target_tokens > 2 * batches[1].target_tokens / 3  # clearly unequal shares per sentence
    spec = next(s for name, s, _ in CASES if name == case)
    expected = _single_worker(tokenizer, batches, spec, teacher_endpoint)
    got = two_workers[case]
    assert set(got) == set(expected)
    for name, grad in expected.items():
        torch.testing.assert_close(got[name], grad, atol=1e-6, rtol=1e-4, msg=f"{case}: {name}")


def test_unweighted_worker_means_would_take_a_different_step(two_workers: dict[str, Any], tokenizer: Tokenizer,
                                                             bible_dir: Path, teacher_endpoint: str) -> None:
    """Each worker's own mean, averaged by DDP, weighs the short batch's tokens more: a different step."""
    expected = _single_worker(tokenizer, _batches(tokenizer, bible_dir), CASES[0][1], teacher_endpoint)
    naive = two_workers["nll-unweighted"]
    differences = [float((naive[n] - g).abs().max() / g.abs().max()) for n, g in expected.items()]
    assert max(differences) > 0.05


def test_a_step_non_finite_on_one_worker_is_skipped_by_both(two_workers: dict[str, Any]) -> None:
    """Rank 1 alone saw a NaN loss at the second step: both ranks skipped it and their weights stay equal."""
    rank0, rank1 = two_workers["guard"]
    assert rank0["taken"] == rank1["taken"] == [True, False]
    for name, weight in rank0["weights"].items():
        torch.testing.assert_close(rank1["weights"][name], weight, rtol=0, atol=0, msg=name)
