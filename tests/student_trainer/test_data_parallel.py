"""Two data-parallel workers (real processes, gloo) take the same step as one worker on both batches."""

from __future__ import annotations

import faulthandler
import multiprocessing
import os
from datetime import timedelta
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel

from s2s.presets import build_model
from s2s.tokenizer import Tokenizer
from student_trainer.batches import Batch
from student_trainer.objectives.driver import Objective
from student_trainer.objectives.registry import make_settings
from student_trainer.teacher_link import WaitClock
from student_trainer.worker import data_parallel_scale

from .conftest import free_port


def _batches(tokenizer: Tokenizer, bible_dir: Path) -> list[Batch]:
    """Two batches with very different token counts (3 long verses, 9 short ones)."""
    lines = [line.split("\t") for line in (bible_dir / "valid.tsv").read_text().splitlines()[1:40]]
    lines.sort(key=lambda row: len(row[2]))
    chosen = [lines[-3:], lines[:9]]
    return [Batch([tokenizer.encode_source(r[1], 64) for r in rows], [tokenizer.encode_target(r[2], 64) for r in rows])
            for rows in chosen]


def _grads(model: Any) -> dict[str, torch.Tensor]:
    return {n: p.grad.detach().clone() for n, p in model.named_parameters() if p.grad is not None}


def _worker(rank: int, port: int, tokenizer: Tokenizer, batches: list[Batch], out: Path, normalise: bool) -> None:
    faulthandler.dump_traceback_later(100, exit=True)  # a hung rank prints where it hangs into the test's report
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    torch.set_num_threads(1)
    dist.init_process_group("gloo", rank=rank, world_size=2, timeout=timedelta(seconds=60))
    try:
        grads = _ddp_step(rank, tokenizer, batches, normalise)
        if rank == 0:
            torch.save(grads, out)
        dist.barrier()
    finally:
        dist.destroy_process_group()


def _ddp_step(rank: int, tokenizer: Tokenizer, batches: list[Batch], normalise: bool) -> dict[str, torch.Tensor]:
    """This rank's step; the DDP wrapper (and its reducer) is freed on return, while the process group still
    exists: freeing it after `destroy_process_group` hung one rank now and then in C++ teardown."""
    model = build_model("test-micro", tokenizer, seed=3).train()
    ddp = DistributedDataParallel(model)
    objective = Objective(make_settings("nll", label_smoothing=0.1), tokenizer.pad_id, None, WaitClock())
    total = sum(b.target_tokens for b in batches)
    scale = data_parallel_scale(batches[rank].target_tokens, total, 2) if normalise else 1.0
    objective.step(ddp, batches[rank], None, torch.device("cpu"), ddp.no_sync, scale)
    return _grads(model)


def test_two_workers_step_like_one_worker_on_the_union_of_their_batches(tokenizer: Tokenizer, bible_dir: Path,
                                                                       tmp_path: Path) -> None:
    batches = _batches(tokenizer, bible_dir)
    assert batches[0].target_tokens > 2 * batches[1].target_tokens / 3  # clearly unequal shares per sentence
    single = build_model("test-micro", tokenizer, seed=3).train()
    objective = Objective(make_settings("nll", label_smoothing=0.1), tokenizer.pad_id, None, WaitClock())
    union = Batch(batches[0].src + batches[1].src, batches[0].tgt + batches[1].tgt)
    objective.step(single, union, None, torch.device("cpu"))
    expected = _grads(single)

    got = _run_two_workers(tokenizer, batches, tmp_path / "normalised.pt", normalise=True)
    assert set(got) == set(expected)
    for name, grad in expected.items():
        torch.testing.assert_close(got[name], grad, atol=1e-6, rtol=1e-4, msg=name)
    # Each worker's own mean, averaged by DDP, weighs the short batch's tokens more: a different step.
    naive = _run_two_workers(tokenizer, batches, tmp_path / "naive.pt", normalise=False)
    differences = [float((naive[n] - g).abs().max() / g.abs().max()) for n, g in expected.items()]
    assert max(differences) > 0.05


def _run_two_workers(tokenizer: Tokenizer, batches: list[Batch], out: Path, normalise: bool) -> dict[str, Any]:
    """Start both ranks as fresh interpreters and always reap them.

    Spawned, not forked: a fork of this test process inherits the threads earlier tests left behind (gRPC, Ray,
    OpenMP), and a child forked mid-lock can hang at exit. Daemonic and killed in ``finally`` so that a hung rank
    fails this test instead of holding pytest open at interpreter exit.
    """
    context = multiprocessing.get_context("spawn")
    port = free_port()
    workers = [context.Process(target=_worker, args=(rank, port, tokenizer, batches, out, normalise), daemon=True)
               for rank in range(2)]
    try:
        for w in workers:
            w.start()
        for w in workers:
            w.join(timeout=120)
        assert [w.exitcode for w in workers] == [0, 0], "a data-parallel rank failed or hung (exit codes above)"
    finally:
        for w in workers:
            if w.is_alive():
                w.kill()
                w.join(timeout=10)
    return dict(torch.load(out, weights_only=True))
