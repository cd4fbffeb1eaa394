"""Non-finite steps are skipped and counted, never taken; a run of them stops training; no checkpoint ever
holds a non-finite weight. (That data-parallel workers skip together is checked in test_data_parallel.py.)"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest
import torch

from s2s.checkpoint import CheckpointError, Manifest, load_checkpoint, save_checkpoint
from s2s.presets import build_model, count_parameters
from s2s.tokenizer import Tokenizer
from student_trainer.metrics import read_metrics
from student_trainer.optimizer import build_optimizer
from student_trainer.recipe import OptimSpec
from student_trainer.recipe_io import recipe_from_dict, recipe_to_dict
from student_trainer.step_guard import NonFiniteStepError, StepGuard
from student_trainer.worker import run_local

from .conftest import RecipeFactory


def _setup() -> tuple[torch.nn.Linear, Any, Any]:
    torch.manual_seed(0)
    model = torch.nn.Linear(3, 2)
    optimizer, scheduler = build_optimizer(model, OptimSpec(lr=0.1, warmup_steps=2))
    return model, optimizer, scheduler


def _backward(model: torch.nn.Linear, poison: float | None = None) -> float:
    loss = model(torch.ones(4, 3)).pow(2).mean()
    if poison is not None:
        loss = loss * poison
    loss.backward()
    return float(loss.detach())


def test_a_nan_loss_or_gradient_leaves_weights_optimizer_and_schedule_untouched() -> None:
    model, optimizer, scheduler = _setup()
    guard = StepGuard(clip_norm=1.0)
    assert guard.step(model, optimizer, scheduler, _backward(model), 0)
    weights = {k: v.clone() for k, v in model.state_dict().items()}
    adam_steps, lr_epoch = optimizer.state[model.weight]["step"].item(), scheduler.last_epoch

    assert not guard.step(model, optimizer, scheduler, _backward(model, math.nan), 1)  # NaN loss and gradients
    _backward(model)
    model.weight.grad[0, 0] = math.inf  # a finite loss with an infinite gradient
    assert not guard.step(model, optimizer, scheduler, 1.0, 1)
    for name, value in model.state_dict().items():
        torch.testing.assert_close(value, weights[name], rtol=0, atol=0)
    assert optimizer.state[model.weight]["step"].item() == adam_steps and scheduler.last_epoch == lr_epoch
    assert all(p.grad is None for p in model.parameters())
    assert (guard.skipped, guard.in_a_row) == (2, 2)
    assert guard.step(model, optimizer, scheduler, _backward(model), 1)
    assert (guard.skipped, guard.in_a_row) == (2, 0)  # a finite step resets the run of skips


def test_too_many_in_a_row_stop_the_run_with_a_clear_error() -> None:
    model, optimizer, scheduler = _setup()
    guard = StepGuard(clip_norm=0.0, max_in_a_row=3)
    for _ in range(2):
        assert not guard.step(model, optimizer, scheduler, _backward(model, math.inf), 7)
    with pytest.raises(NonFiniteStepError, match=r"training stopped after step 7: 3 steps in a row had a "
                                                 r"non-finite loss or gradient norm"):
        guard.step(model, optimizer, scheduler, _backward(model, math.inf), 7)


def test_a_model_with_a_nan_weight_is_never_saved(tokenizer: Tokenizer, tmp_path: Path) -> None:
    model = build_model("test-micro", tokenizer, seed=1)
    with torch.no_grad():
        model.get_parameter("model.decoder.layers.0.fc1.weight")[3, 4] = math.nan
    manifest = Manifest("nan", tokenizer.fingerprint, count_parameters(model))
    with pytest.raises(CheckpointError, match="weight model.decoder.layers.0.fc1.weight holds 1 NaN or infinite"):
        save_checkpoint(model, tokenizer, tmp_path / "nan", manifest)
    assert not (tmp_path / "nan").exists() and not list(tmp_path.iterdir())


def test_a_diverging_run_skips_its_nan_steps_then_stops_and_keeps_finite_checkpoints(
        make_recipe: RecipeFactory) -> None:
    """An absurd learning rate: after one step the weights are huge, every later loss is NaN; the run skips
    five steps, logs each, and stops with the error; every checkpoint it saved loads with finite weights."""
    recipe = make_recipe("nll", max_steps=20, log_every=1, checkpoint_every=1, optim={"lr": 1e30, "warmup_steps": 0})
    out = Path(recipe["output_dir"])
    with pytest.raises(NonFiniteStepError, match="5 steps in a row"):
        run_local(recipe_to_dict(recipe_from_dict(recipe)))
    records = read_metrics(out / "metrics.jsonl")
    skips = [r for r in records if r["event"] == "nonfinite_step"]
    assert [r["in_a_row"] for r in skips] == [1, 2, 3, 4, 5]
    assert all(not math.isfinite(r["loss"]) or not math.isfinite(r["grad_norm"]) for r in skips)
    trained = [r for r in records if r["event"] == "train"]
    assert trained and all(math.isfinite(r["loss"]) for r in trained)
    checkpoints = sorted((out / "local_checkpoints").glob("step_*"))
    assert checkpoints
    for folder in checkpoints:
        weights = load_checkpoint(folder / "student").model.state_dict()
        assert all(bool(torch.isfinite(w).all()) for w in weights.values() if w.is_floating_point()), folder
