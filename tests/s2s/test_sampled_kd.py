"""Word-KD on the sampled signal, tested where it matters: the mean of its gradient over many draws is the
full-vocabulary forward-KL gradient, and the expected loss is minimised at p = q (top-k with a tail bucket
is neither: its gradient is biased, shown below for contrast).

Tolerance: at a position, the gradient of one draw with respect to logit y is p(y) - c(y)/m, and c(y) is
binomial(m, q(y)), so the mean over N draws has standard error sqrt(q(y)(1 - q(y)) / (m N)). Every
component must lie within 5 standard errors (a chance of about 3e-5 that any of 40 components strays
that far by luck; the draws are seeded, so the test is deterministic anyway).
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from s2s.losses import LossInputError, sampled_kd_loss, word_kd_loss
from s2s.teacher.sampling import counted

V, M, DRAWS = 40, 12, 20000
GEN = torch.Generator().manual_seed(7)
TEACHER = torch.randn(V, generator=GEN, dtype=torch.float64) * 2.0
Q = F.softmax(TEACHER, -1)
STUDENT = torch.randn(V, generator=GEN, dtype=torch.float64)
ONE = torch.ones(1, 1, dtype=torch.bool)


def _draw_counts(n: int, seed: int) -> torch.Tensor:
    """[n, 1, V] counts of m draws from q (dense: every id, most counts 0)."""
    g = torch.Generator().manual_seed(seed)
    drawn = torch.multinomial(Q.expand(n, V), M, replacement=True, generator=g)
    return torch.zeros(n, V, dtype=torch.float64).scatter_add_(1, drawn, torch.ones_like(drawn, dtype=torch.float64)
                                                               ).unsqueeze(1)


def _mean_gradient(logits: torch.Tensor, counts: torch.Tensor) -> torch.Tensor:
    """The gradient with respect to one position's logits, averaged over the draws in `counts`."""
    n = counts.shape[0]
    leaf = logits.clone().requires_grad_(True)
    ids = torch.arange(V).expand(n, 1, V)
    loss = sampled_kd_loss(leaf.expand(n, 1, V), ids, counts, torch.ones(n, 1, dtype=torch.bool), reduction="sum")
    (loss / n).backward()
    assert leaf.grad is not None
    return leaf.grad


def _full_kl_gradient(logits: torch.Tensor) -> torch.Tensor:
    """The gradient of KL(q‖p) over the whole vocabulary (Word-KD with k = V)."""
    leaf = logits.clone().requires_grad_(True)
    word_kd_loss(leaf.reshape(1, 1, V), torch.arange(V).reshape(1, 1, V), Q.log().reshape(1, 1, V),
                 torch.full((1, 1), float("-inf"), dtype=torch.float64), ONE, reduction="sum").backward()
    assert leaf.grad is not None
    return leaf.grad


def _standard_error(draws: int) -> torch.Tensor:
    return (Q * (1 - Q) / (M * draws)).sqrt()


def test_the_mean_gradient_over_many_draws_is_the_full_forward_kl_gradient() -> None:
    estimate = _mean_gradient(STUDENT, _draw_counts(DRAWS, seed=1))
    exact = _full_kl_gradient(STUDENT)
    assert ((estimate - exact).abs() <= 5 * _standard_error(DRAWS) + 1e-12).all()
    torch.testing.assert_close(exact, F.softmax(STUDENT, -1) - Q)  # the reference itself: p - q


def test_top_k_with_a_tail_bucket_is_biased_by_far_more_than_that_tolerance() -> None:
    top = Q.topk(8)
    leaf = STUDENT.clone().requires_grad_(True)
    word_kd_loss(leaf.reshape(1, 1, V), top.indices.reshape(1, 1, 8), top.values.log().reshape(1, 1, 8),
                 torch.log1p(-top.values.sum()).reshape(1, 1), ONE, reduction="sum").backward()
    assert leaf.grad is not None
    bias = (leaf.grad - _full_kl_gradient(STUDENT)).abs()
    assert (bias > 20 * _standard_error(DRAWS)).any()


def test_at_p_equals_q_the_expected_gradient_vanishes() -> None:
    estimate = _mean_gradient(Q.log(), _draw_counts(DRAWS, seed=2))
    assert ((estimate.abs()) <= 5 * _standard_error(DRAWS) + 1e-12).all()


def test_for_one_draw_the_gradient_vanishes_at_its_empirical_distribution() -> None:
    counts = _draw_counts(1, seed=3)
    empirical = (counts[0, 0] / M).clamp(min=1e-300).log()
    grad = _mean_gradient(empirical, counts)
    torch.testing.assert_close(grad, torch.zeros(V, dtype=torch.float64), atol=1e-12, rtol=0)


def test_optimised_alone_against_fresh_draws_the_student_reaches_the_teacher() -> None:
    logits = torch.zeros(V, dtype=torch.float64, requires_grad=True)
    optimiser = torch.optim.Adam([logits], lr=0.1)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimiser, lambda step: 1.0 / (1.0 + step / 50))
    for step in range(300):
        counts = _draw_counts(64, seed=100 + step)
        optimiser.zero_grad()
        sampled_kd_loss(logits.expand(64, 1, V), torch.arange(V).expand(64, 1, V), counts,
                        torch.ones(64, 1, dtype=torch.bool)).backward()
        optimiser.step()
        schedule.step()
    logp = F.log_softmax(logits.detach(), -1)
    assert float((Q * (Q.log() - logp)).sum()) < 0.01  # KL(q‖p) from 0.9 at the uniform start


def test_the_value_is_a_divergence_whose_mean_bounds_the_forward_kl_from_above() -> None:
    counts = _draw_counts(4000, seed=4)
    values = sampled_kd_loss(STUDENT.expand(4000, 1, V), torch.arange(V).expand(4000, 1, V), counts,
                             torch.ones(4000, 1, dtype=torch.bool), reduction="none")
    assert (values >= -1e-12).all()
    kl = float((Q * (Q.log() - F.log_softmax(STUDENT, -1))).sum())
    assert float(values.mean()) >= kl


def test_the_compact_form_of_the_teacher_gives_the_same_loss_as_the_dense_one() -> None:
    g = torch.Generator().manual_seed(5)
    drawn = torch.multinomial(Q.expand(3, V), M, replacement=True, generator=g).numpy()
    result = counted(drawn, M)  # 3 positions, distinct ids ascending with counts
    width = 12
    ids = torch.zeros(1, 3, width, dtype=torch.long)
    counts = torch.zeros(1, 3, width)
    start = 0
    for t in range(3):
        n = 0
        while start + n < len(result.counts) and counts[0, t].sum() + result.counts[start + n] <= M:
            ids[0, t, n], counts[0, t, n] = int(result.ids[start + n]), float(result.counts[start + n])
            n += 1
        start += n
    dense = torch.zeros(1, 3, V, dtype=torch.float64)
    for t in range(3):
        for y in drawn[t]:
            dense[0, t, int(y)] += 1
    logits = STUDENT.float().expand(1, 3, V)
    mask = torch.ones(1, 3, dtype=torch.bool)
    torch.testing.assert_close(sampled_kd_loss(logits, ids, counts, mask),
                               sampled_kd_loss(logits, torch.arange(V).expand(1, 3, V), dense.float(), mask))


@pytest.mark.parametrize(("change", "message"), [
    (lambda i, c, m: (i.int(), c, m), "must be a long"),
    (lambda i, c, m: (i + 100, c, m), "outside the vocabulary"),
    (lambda i, c, m: (i, c[..., :1], m), "same shape"),
    (lambda i, c, m: (i, -c, m), ">= 0"),
    (lambda i, c, m: (i, torch.zeros_like(c), m), "at least one draw"),
])
def test_bad_inputs_are_refused_by_name(change: object, message: str) -> None:
    ids = torch.arange(4).reshape(1, 1, 4)
    counts = torch.tensor([[[6.0, 3.0, 2.0, 1.0]]])
    args = change(ids, counts, ONE)  # type: ignore[operator]
    with pytest.raises(LossInputError, match=message):
        sampled_kd_loss(torch.zeros(1, 1, 50), *args)


def test_padding_positions_are_ignored_even_without_draws() -> None:
    ids = torch.zeros(1, 2, 3, dtype=torch.long)
    counts = torch.tensor([[[2.0, 0.0, 0.0], [0.0, 0.0, 0.0]]])
    mask = torch.tensor([[True, False]])
    out = sampled_kd_loss(torch.zeros(1, 2, 5), ids, counts, mask, reduction="none")
    assert out[0, 1] == 0 and out[0, 0] == pytest.approx(torch.log(torch.tensor(5.0)).item())
