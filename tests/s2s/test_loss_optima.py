"""Every distillation loss tested where it matters: at its intended optimum and by optimising it alone.

For each term (Word-KD, KA top-k' in both forms, KA exact, the single-sample on-policy KA, JSD, TIE-KD):
its gradient vanishes at the intended optimum; optimised alone on a fixed support it makes the student
agree with the teacher there; and the KA forms, with candidates sampled from the student itself, reach
the teacher from a uniform start. A bare truncated sum `Σ_{y∈C} p log(p/q)` fails these tests (shown
below), which is how the old KA term's bias would have been caught.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch
import torch.nn.functional as F

from s2s.losses import (
    jsd_loss,
    ka_exact_loss,
    ka_loss,
    ka_sampled_loss,
    student_candidates,
    tie_kd_loss,
    word_kd_loss,
)

V = 6
TEACHER = torch.tensor([2.0, 1.0, 0.5, 0.0, -1.0, -2.0], dtype=torch.float64)
LOGQ = F.log_softmax(TEACHER, -1)
ONE = torch.ones(1, 1, dtype=torch.bool)


def _pos(vector: torch.Tensor) -> torch.Tensor:
    """A [V] vector as one [1, 1, V] position."""
    return vector.reshape(1, 1, -1)


def _topk(k: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    top = LOGQ.topk(k)
    rest = torch.log1p(-top.values.exp().sum()).reshape(1, 1)
    return _pos(top.indices), _pos(top.values), rest


def _cand_logq(cand: torch.Tensor) -> torch.Tensor:
    return LOGQ[cand]


def _reverse_kl(logits: torch.Tensor) -> float:
    logp = F.log_softmax(logits.detach().double(), -1)
    return float((logp.exp() * (logp - LOGQ)).sum())


def _grad_at(logits: torch.Tensor, loss: Callable[[torch.Tensor], torch.Tensor]) -> torch.Tensor:
    leaf = logits.clone().double().requires_grad_(True)
    loss(_pos(leaf)).backward()
    assert leaf.grad is not None
    return leaf.grad


def _optimise(loss: Callable[[torch.Tensor], torch.Tensor], steps: int = 1500, lr: float = 0.05,
              start: torch.Tensor | None = None) -> torch.Tensor:
    """Adam on the student's logits of one position, from a uniform start unless given."""
    logits = (torch.zeros(V, dtype=torch.float64) if start is None else start.clone()).requires_grad_(True)
    optimiser = torch.optim.Adam([logits], lr=lr)
    for _ in range(steps):
        optimiser.zero_grad()
        loss(_pos(logits)).backward()
        optimiser.step()
    return logits.detach()


# --------------------------------------------------------------------------- gradient at the optimum

CAND = _pos(torch.tensor([0, 3, 4]))  # a fixed candidate set that is not the teacher's top-3
TOP_IDS, TOP_LOGQ, TOP_REST = _topk(3)

AT_P_EQUALS_Q: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "word_kd_tail": lambda s: word_kd_loss(s, TOP_IDS, TOP_LOGQ, TOP_REST, ONE, reduction="sum"),
    "ka_tail": lambda s: ka_loss(s, CAND, _cand_logq(CAND), ONE, reduction="sum"),
    "ka_renormalised": lambda s: ka_loss(s, CAND, _cand_logq(CAND), ONE, reduction="sum", form="renormalised"),
    "ka_exact": lambda s: ka_exact_loss(s, _pos(TEACHER), ONE, reduction="sum"),
    "jsd": lambda s: jsd_loss(s, TOP_IDS, TOP_LOGQ, TOP_REST, CAND, _cand_logq(CAND), ONE, reduction="sum"),
}


@pytest.mark.parametrize("name", sorted(AT_P_EQUALS_Q))
def test_gradient_vanishes_when_the_student_equals_the_teacher(name: str) -> None:
    grad = _grad_at(TEACHER, AT_P_EQUALS_Q[name])
    torch.testing.assert_close(grad, torch.zeros(V, dtype=torch.float64), atol=1e-9, rtol=0)


def test_ka_sampled_gradient_is_exactly_zero_for_every_sample_when_p_equals_q() -> None:
    for token in range(V):
        ids = torch.tensor([[token]])
        grad = _grad_at(TEACHER, lambda s, ids=ids: ka_sampled_loss(s, ids, LOGQ[ids], ONE, reduction="sum"))
        torch.testing.assert_close(grad, torch.zeros(V, dtype=torch.float64), atol=1e-12, rtol=0)


def test_the_bare_truncated_sum_is_not_minimised_at_p_equals_q() -> None:
    """The old KA term: its gradient at p = q is not zero, and alone it drives p to q/e on the candidates."""
    def truncated(s: torch.Tensor) -> torch.Tensor:
        logp = F.log_softmax(s, -1).gather(-1, CAND)
        return (logp.exp() * (logp - _cand_logq(CAND))).sum()

    assert _grad_at(TEACHER, truncated).abs().max() > 0.05
    final = F.softmax(_optimise(truncated, steps=3000), -1)
    ratio = final[CAND.flatten()] / LOGQ.exp()[CAND.flatten()]
    torch.testing.assert_close(ratio, torch.full((3,), torch.e ** -1, dtype=torch.float64), atol=0.01, rtol=0)


def test_tie_kd_gradient_vanishes_at_the_teachers_ranking_with_margins_not_at_p_equals_q() -> None:
    ranked = torch.tensor([9.0, 6.0, 5.0, 1.0, 0.0, -1.0], dtype=torch.float64)  # top-3 {0,1,2}, gaps >= 1
    def tie(s: torch.Tensor) -> torch.Tensor:
        return tie_kd_loss(s, TOP_IDS, ONE, margin=1.0, reduction="sum")

    torch.testing.assert_close(_grad_at(ranked, tie), torch.zeros(V, dtype=torch.float64))
    assert _grad_at(TEACHER, tie).abs().max() > 0.5  # the teacher's own logits have gaps below the margin


# ----------------------------------------------------------------- optimising alone on a fixed support


def test_word_kd_alone_matches_the_teacher_on_its_top_k_and_the_rest_mass() -> None:
    p = F.softmax(_optimise(AT_P_EQUALS_Q["word_kd_tail"]), -1)
    top = TOP_IDS.flatten()
    torch.testing.assert_close(p[top], LOGQ.exp()[top], atol=2e-3, rtol=0)
    torch.testing.assert_close(1 - p[top].sum(), TOP_REST.exp().squeeze(), atol=2e-3, rtol=0)


def test_ka_tail_alone_matches_the_teacher_on_a_fixed_candidate_set_and_the_rest_mass() -> None:
    p = F.softmax(_optimise(AT_P_EQUALS_Q["ka_tail"]), -1)
    cand, q = CAND.flatten(), LOGQ.exp()
    torch.testing.assert_close(p[cand], q[cand], atol=2e-3, rtol=0)
    torch.testing.assert_close(1 - p[cand].sum(), 1 - q[cand].sum(), atol=2e-3, rtol=0)


def test_ka_renormalised_alone_matches_the_teachers_ratios_on_a_fixed_candidate_set() -> None:
    p = F.softmax(_optimise(AT_P_EQUALS_Q["ka_renormalised"]), -1)
    cand, q = CAND.flatten(), LOGQ.exp()
    torch.testing.assert_close(p[cand] / p[cand].sum(), q[cand] / q[cand].sum(), atol=2e-3, rtol=0)


def test_jsd_alone_matches_the_teacher_on_both_supports() -> None:
    p = F.softmax(_optimise(AT_P_EQUALS_Q["jsd"]), -1)
    both = torch.unique(torch.cat([CAND.flatten(), TOP_IDS.flatten()]))
    torch.testing.assert_close(p[both], LOGQ.exp()[both], atol=3e-3, rtol=0)


def test_ka_exact_alone_reaches_the_teacher() -> None:
    assert _reverse_kl(_optimise(AT_P_EQUALS_Q["ka_exact"])) < 1e-4


def test_tie_kd_alone_reaches_the_teachers_ranking_with_its_margins() -> None:
    logits = _optimise(lambda s: tie_kd_loss(s, TOP_IDS, ONE, margin=1.0, reduction="sum"), steps=600)
    top, rest = logits[TOP_IDS.flatten()], logits[[3, 4, 5]]
    assert int(logits.argmax()) == int(TOP_IDS[0, 0, 0])
    assert float(logits[0] - logits[1:].max()) >= 1.0 - 1e-3
    assert float(top.min() - rest.max()) >= 1.0 - 1e-3


# ------------------------------------------------------- candidates sampled from the student itself

SAMPLED_CANDIDATES = 2
SAMPLES_PER_STEP = 64


def _ka_on_own_samples(form: str) -> Callable[[torch.Tensor], torch.Tensor]:
    generator = torch.Generator().manual_seed(0)

    def loss(s: torch.Tensor) -> torch.Tensor:
        many = s.expand(1, SAMPLES_PER_STEP, V)
        cand = student_candidates(many.detach(), SAMPLED_CANDIDATES, sample=True, generator=generator)
        return ka_loss(many, cand, LOGQ[cand], torch.ones(1, SAMPLES_PER_STEP, dtype=torch.bool), form=form)
    return loss


def _single_sample_estimator() -> Callable[[torch.Tensor], torch.Tensor]:
    generator = torch.Generator().manual_seed(0)

    def loss(s: torch.Tensor) -> torch.Tensor:
        many = s.expand(1, SAMPLES_PER_STEP, V)
        probs = F.softmax(s.detach().flatten(), -1)
        ids = torch.multinomial(probs, SAMPLES_PER_STEP, replacement=True, generator=generator).unsqueeze(0)
        return ka_sampled_loss(many, ids, LOGQ[ids], torch.ones(1, SAMPLES_PER_STEP, dtype=torch.bool))
    return loss


@pytest.mark.parametrize("name", ["ka_tail", "ka_renormalised", "ka_sampled"])
def test_ka_with_candidates_sampled_from_the_student_reaches_the_teacher_from_uniform(name: str) -> None:
    loss = _single_sample_estimator() if name == "ka_sampled" else _ka_on_own_samples(name.removeprefix("ka_"))
    start = _reverse_kl(torch.zeros(V, dtype=torch.float64))
    final = _reverse_kl(_optimise(loss, steps=1500, lr=0.05))
    assert start > 0.5 and final < 0.05, (start, final)


def test_single_sample_estimator_mean_gradient_matches_the_exact_reverse_kl_gradient() -> None:
    student = torch.tensor([0.3, -0.2, 1.1, 0.0, -0.7, 0.4], dtype=torch.float64)
    exact = _grad_at(student, lambda s: ka_exact_loss(s, _pos(TEACHER), ONE, reduction="sum"))
    n = 200_000
    ids = torch.multinomial(F.softmax(student, -1), n, replacement=True,
                            generator=torch.Generator().manual_seed(1)).unsqueeze(0)
    leaf = student.clone().requires_grad_(True)
    ka_sampled_loss(leaf.expand(1, n, V), ids, LOGQ[ids], torch.ones(1, n, dtype=torch.bool)).backward()
    assert leaf.grad is not None
    torch.testing.assert_close(leaf.grad, exact, atol=0.01, rtol=0)
