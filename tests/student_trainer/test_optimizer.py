"""The learning-rate schedule: inverse-square-root decay after a linear warm-up, and a fine-tune continuing
the schedule of the run it starts from (offset, with a short ramp because Adam's moments start afresh)."""

from __future__ import annotations

import math

import pytest
import torch

from student_trainer.optimizer import build_optimizer, inverse_sqrt, lr_factor
from student_trainer.recipe import OptimSpec


def test_inverse_sqrt_warms_up_linearly_then_decays_as_one_over_root_step() -> None:
    f = inverse_sqrt(200)
    assert f(0) == pytest.approx(1 / 200)
    assert f(99) == pytest.approx(0.5)
    assert f(199) == pytest.approx(1.0)
    assert f(799) == pytest.approx(0.5)  # sqrt(200 / 800)


def test_without_offset_or_ramp_the_factor_is_the_plain_schedule() -> None:
    plain, f = inverse_sqrt(200), lr_factor(OptimSpec(warmup_steps=200))
    assert [f(s) for s in range(0, 3000, 37)] == [plain(s) for s in range(0, 3000, 37)]


def test_a_continued_schedule_starts_where_the_earlier_run_stopped() -> None:
    spec = OptimSpec(lr=5e-4, warmup_steps=200, schedule_offset=2000)
    f = lr_factor(spec)
    assert spec.lr * f(0) == pytest.approx(5e-4 * math.sqrt(200 / 2001))  # about 1.58e-4, not a restart
    assert spec.lr * f(149) == pytest.approx(5e-4 * math.sqrt(200 / 2150))
    assert all(f(s) > f(s + 1) for s in range(300))  # decays from the first step: no second warm-up


def test_the_ramp_reaches_the_continued_schedule_after_rewarmup_steps() -> None:
    f = lr_factor(OptimSpec(warmup_steps=200, schedule_offset=2000, rewarmup_steps=30))
    g = lr_factor(OptimSpec(warmup_steps=200, schedule_offset=2000))
    assert f(0) == pytest.approx(g(0) / 30)
    assert f(14) == pytest.approx(g(14) / 2)
    assert [f(s) for s in range(29, 200)] == [g(s) for s in range(29, 200)]


def test_the_optimizer_follows_the_continued_schedule_and_resumes_on_it() -> None:
    spec = OptimSpec(lr=5e-4, warmup_steps=200, schedule_offset=2000, rewarmup_steps=10)
    model = torch.nn.Linear(3, 2)
    optimizer, scheduler = build_optimizer(model, spec)
    for _ in range(40):
        model(torch.randn(4, 3)).sum().backward()
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad()
    assert optimizer.param_groups[0]["lr"] == pytest.approx(5e-4 * math.sqrt(200 / 2041))
    # A resumed run rebuilds the optimiser from the same spec and loads the schedule's state.
    again, rescheduled = build_optimizer(model, spec)
    again.load_state_dict(optimizer.state_dict())
    rescheduled.load_state_dict(scheduler.state_dict())
    assert again.param_groups[0]["lr"] == pytest.approx(optimizer.param_groups[0]["lr"])
