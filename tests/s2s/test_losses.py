"""Tests of s2s.losses against torch.nn.functional references, closed forms and gradient checks."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from s2s.losses import (
    LossInputError,
    jsd_loss,
    ka_exact_loss,
    ka_loss,
    ka_sampled_loss,
    mix_with_nll,
    nll_loss,
    student_candidates,
    tie_kd_loss,
    word_kd_loss,
)

B, T, V, PAD = 3, 5, 11, 10


def _gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _logits(
    seed: int, dtype: torch.dtype = torch.float32, shape: tuple[int, ...] = (B, T, V)
) -> torch.Tensor:
    return (2.0 * torch.randn(shape, generator=_gen(seed))).to(dtype)


def _mask() -> torch.Tensor:
    """Rows of different lengths, including one fully padded row-end."""
    lengths = torch.tensor([T, 3, 1])
    return torch.arange(T).unsqueeze(0) < lengths.unsqueeze(1)


def _teacher_topk(teacher_logits: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """What the teacher's TopK RPC returns: ids, their log q and log of the remaining mass."""
    logq = F.log_softmax(teacher_logits.double(), dim=-1)
    top = logq.topk(k, dim=-1)
    rest = torch.log1p(-top.values.exp().sum(-1).clamp(max=1.0))
    return top.indices, top.values.float(), rest.float()


def _masked_sum(per_token: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    return per_token[mask].sum()


# ----------------------------------------------------------------------------------------------- NLL


@pytest.mark.parametrize("eps", [0.0, 0.1, 0.3])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_nll_matches_cross_entropy(eps: float, reduction: str) -> None:
    logits = _logits(0)
    target = torch.randint(0, V - 1, (B, T), generator=_gen(1)).masked_fill(~_mask(), PAD)
    ours = nll_loss(logits, target, PAD, label_smoothing=eps, reduction=reduction)
    ref = F.cross_entropy(logits.reshape(-1, V), target.reshape(-1), ignore_index=PAD,
                          label_smoothing=eps, reduction=reduction)
    torch.testing.assert_close(ours, ref.reshape(ours.shape))


def test_nll_casts_half_precision_logits_to_float32() -> None:
    logits = _logits(2, torch.bfloat16)
    target = torch.randint(0, V - 1, (B, T), generator=_gen(3))
    ours = nll_loss(logits, target, PAD)
    assert ours.dtype == torch.float32
    torch.testing.assert_close(ours, F.cross_entropy(logits.float().reshape(-1, V), target.reshape(-1)))


def test_nll_rejects_bad_target() -> None:
    logits = _logits(0)
    with pytest.raises(ValueError, match="target must be a long tensor"):
        nll_loss(logits, torch.zeros(B, T, dtype=torch.int32), PAD)
    with pytest.raises(ValueError, match=r"outside the vocabulary \[0, 11\)"):
        nll_loss(logits, torch.full((B, T), V + 3), PAD)
    with pytest.raises(ValueError, match="label_smoothing must be a number in"):
        nll_loss(logits, torch.zeros(B, T, dtype=torch.long), PAD, label_smoothing=1.5)


# -------------------------------------------------------------------------------------------- Word-KD


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_word_kd_with_full_vocabulary_is_forward_kl(reduction: str) -> None:
    """KL(q‖p) = cross-entropy minus the teacher's entropy (F.cross_entropy and F.kl_div references)."""
    student, teacher, mask = _logits(0), _logits(1), _mask()
    ids, logq, rest = _teacher_topk(teacher, V)
    ours = word_kd_loss(student, ids, logq, rest, mask, reduction=reduction)
    q = F.softmax(teacher, dim=-1)
    ce = F.cross_entropy(student.reshape(-1, V), q.reshape(-1, V), reduction="none").reshape(B, T)
    logp, full_logq = F.log_softmax(student, -1), F.log_softmax(teacher, -1)
    kl = F.kl_div(logp, full_logq, log_target=True, reduction="none").sum(-1)
    entropy = -(q * full_logq).sum(-1)
    for per_token in (kl, ce - entropy):
        if reduction == "none":
            torch.testing.assert_close(ours, per_token * mask)
        else:
            expected = _masked_sum(per_token, mask)
            expected = expected / mask.sum() if reduction == "mean" else expected
            torch.testing.assert_close(ours, expected)


@pytest.mark.parametrize("k", [3, V])
def test_word_kd_of_identical_distributions_is_zero(k: int) -> None:
    logits, mask = _logits(4), _mask()
    ids, logq, rest = _teacher_topk(logits, k)
    torch.testing.assert_close(word_kd_loss(logits, ids, logq, rest, mask, reduction="none"),
                               torch.zeros(B, T), atol=1e-5, rtol=0)


@pytest.mark.parametrize("k", [1, 3, V - 1])
def test_word_kd_tail_is_kl_over_topk_plus_rest_bucket(k: int) -> None:
    student, teacher, mask = _logits(5), _logits(6), _mask()
    ids, logq, rest = _teacher_topk(teacher, k)
    p = F.softmax(student.double(), -1)
    p_top = p.gather(-1, ids)
    coarse_p = torch.cat([p_top, (1.0 - p_top.sum(-1, keepdim=True))], dim=-1)
    coarse_q = torch.cat([logq.double().exp(), rest.double().exp().unsqueeze(-1)], dim=-1)
    expected = (coarse_q * (coarse_q.log() - coarse_p.log())).sum(-1) * mask
    ours = word_kd_loss(student, ids, logq, rest, mask, reduction="none")
    assert (ours >= 0).all()
    torch.testing.assert_close(ours.double(), expected, rtol=1e-5, atol=1e-5)


def test_word_kd_without_tail_renormalises_teacher_over_topk() -> None:
    student, teacher, mask = _logits(7), _logits(8), _mask()
    ids, logq, rest = _teacher_topk(teacher, 4)
    q_renorm = logq.exp() / logq.exp().sum(-1, keepdim=True)
    expected = (q_renorm * (q_renorm.log() - F.log_softmax(student, -1).gather(-1, ids))).sum(-1) * mask
    ours = word_kd_loss(student, ids, logq, rest, mask, tail=False, reduction="none")
    torch.testing.assert_close(ours, expected)


def test_word_kd_tail_gradient_vanishes_when_student_equals_teacher() -> None:
    """Matching the k+1 buckets exactly is a minimum with the tail; dropping the tail is not."""
    logits, mask = _logits(9), _mask()
    ids, logq, rest = _teacher_topk(logits, 3)
    grads = []
    for tail in (True, False):
        student = logits.clone().requires_grad_(True)
        word_kd_loss(student, ids, logq, rest, mask, tail=tail, reduction="sum").backward()
        assert student.grad is not None
        grads.append(student.grad)
    torch.testing.assert_close(grads[0], torch.zeros_like(grads[0]), atol=1e-6, rtol=0)
    assert grads[1][mask].abs().max() > 1e-3


def test_word_kd_tail_is_stable_when_student_mass_is_almost_all_in_topk() -> None:
    student = torch.full((1, 1, V), -60.0)
    student[0, 0, :2] = 60.0
    ids = torch.tensor([[[0, 1]]])
    logq = torch.log(torch.tensor([[[0.5, 0.4]]]))
    rest = torch.log(torch.tensor([[0.1]]))
    student.requires_grad_(True)
    loss = word_kd_loss(student, ids, logq, rest, torch.ones(1, 1, dtype=torch.bool), reduction="sum")
    loss.backward()
    # log p_rest = -120 + log(V - 2) - log 2 exactly (up to float32), far below what 1 - Σp could resolve.
    log_rest = -120.0 + torch.log(torch.tensor(V - 2.0)) - torch.log(torch.tensor(2.0))
    q = torch.tensor([0.5, 0.4, 0.1])
    log_p = torch.stack([torch.log(torch.tensor(0.5)), torch.log(torch.tensor(0.5)), log_rest])
    expected = (q * (q.log() - log_p)).sum()
    torch.testing.assert_close(loss.detach(), expected)
    assert student.grad is not None and torch.isfinite(student.grad).all()


def test_word_kd_ignores_padding_even_with_garbage_teacher_values() -> None:
    student, teacher, mask = _logits(10), _logits(11), _mask()
    ids, logq, rest = _teacher_topk(teacher, 4)
    logq_garbage = logq.masked_fill(~mask.unsqueeze(-1), float("nan"))
    rest_garbage = rest.masked_fill(~mask, float("nan"))
    student_garbage = torch.where(mask.unsqueeze(-1), student, torch.full_like(student, 1e4))
    student_garbage.requires_grad_(True)
    loss = word_kd_loss(student_garbage, ids, logq_garbage, rest_garbage, mask, reduction="sum")
    loss.backward()
    torch.testing.assert_close(loss, word_kd_loss(student, ids, logq, rest, mask, reduction="sum"))
    assert student_garbage.grad is not None
    assert torch.all(student_garbage.grad[~mask] == 0) and torch.isfinite(student_garbage.grad).all()


@pytest.mark.parametrize("k", [3, 6])
@pytest.mark.parametrize("tail", [True, False])
def test_word_kd_gradcheck(tail: bool, k: int) -> None:
    """k = 6 = V also covers the empty-complement path, where the tail term must not produce NaNs."""
    student = _logits(12, torch.float64, (2, 3, 6)).requires_grad_(True)
    ids, logq, rest = _teacher_topk(_logits(13, shape=(2, 3, 6)), k)
    mask = torch.tensor([[True, True, False], [True, False, False]])
    assert torch.autograd.gradcheck(
        lambda s: word_kd_loss(s, ids, logq.double(), rest.double(), mask, tail=tail, reduction="none"),
        (student,))


def test_word_kd_rejects_bad_shapes_and_ids() -> None:
    student, mask = _logits(0), _mask()
    ids, logq, rest = _teacher_topk(_logits(1), 3)
    with pytest.raises(ValueError, match="topk_logq must have the same shape as topk_ids"):
        word_kd_loss(student, ids, logq[..., :2], rest, mask)
    with pytest.raises(ValueError, match="rest_logmass must have shape"):
        word_kd_loss(student, ids, logq, rest.unsqueeze(-1), mask)
    with pytest.raises(ValueError, match="between 1 and V=11 ids per position, got k=12"):
        too_many = torch.zeros(B, T, V + 1, dtype=torch.long)
        word_kd_loss(student, too_many, too_many.float(), rest, mask)
    with pytest.raises(ValueError, match="outside the vocabulary"):
        word_kd_loss(student, ids + V, logq, rest, mask)
    with pytest.raises(ValueError, match="mask must be a bool tensor"):
        word_kd_loss(student, ids, logq, rest, mask.long())
    with pytest.raises(ValueError, match="student_logits must have shape"):
        word_kd_loss(student[0], ids, logq, rest, mask)


# ------------------------------------------------------------------------------------------------- KA


def _exact_reverse_kl(student: torch.Tensor, teacher: torch.Tensor) -> torch.Tensor:
    logp, logq = F.log_softmax(student, -1), F.log_softmax(teacher, -1)
    return F.kl_div(logq, logp, log_target=True, reduction="none").sum(-1)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_ka_with_full_candidate_set_is_exact_reverse_kl(reduction: str) -> None:
    student, teacher, mask = _logits(20), _logits(21), _mask()
    cand = torch.stack([torch.randperm(V, generator=_gen(i)) for i in range(B * T)]).reshape(B, T, V)
    cand_logq = F.log_softmax(teacher, -1).gather(-1, cand)
    per_token = _exact_reverse_kl(student, teacher)
    if reduction == "none":
        expected = per_token * mask
    else:
        expected = _masked_sum(per_token, mask)
        expected = expected / mask.sum() if reduction == "mean" else expected
    torch.testing.assert_close(ka_loss(student, cand, cand_logq, mask, reduction=reduction), expected)
    torch.testing.assert_close(ka_loss(student, cand, cand_logq, mask, reduction=reduction,
                                       form="renormalised"), expected)
    torch.testing.assert_close(ka_exact_loss(student, teacher, mask, reduction=reduction), expected)


def test_ka_of_identical_distributions_is_zero() -> None:
    logits, mask = _logits(22), _mask()
    cand = student_candidates(logits, V)
    zero = torch.zeros(())
    torch.testing.assert_close(ka_loss(logits, cand, F.log_softmax(logits, -1).gather(-1, cand), mask), zero)
    torch.testing.assert_close(ka_exact_loss(logits, logits, mask), zero)


def test_ka_on_candidate_subset_matches_closed_forms_and_lower_bounds_the_reverse_kl() -> None:
    """Tail form: KL of p and q coarsened to C ∪ {rest}; renormalised: KL(p̃‖q̃) on C. Both >= 0 and at
    most the full reverse KL (coarsening and conditioning never increase a KL)."""
    student, teacher, mask = _logits(23), _logits(24), _mask()
    cand = student_candidates(student, 4)
    logq = F.log_softmax(teacher.double(), -1).gather(-1, cand)
    p_c = F.softmax(student.double(), -1).gather(-1, cand)
    coarse_p = torch.cat([p_c, 1.0 - p_c.sum(-1, keepdim=True)], dim=-1)
    coarse_q = torch.cat([logq.exp(), 1.0 - logq.exp().sum(-1, keepdim=True)], dim=-1)
    tail = (coarse_p * (coarse_p.log() - coarse_q.log())).sum(-1) * mask
    p_r, q_r = p_c / p_c.sum(-1, keepdim=True), logq.exp() / logq.exp().sum(-1, keepdim=True)
    renorm = (p_r * (p_r.log() - q_r.log())).sum(-1) * mask
    full = _exact_reverse_kl(student.double(), teacher.double()) * mask
    for form, expected in (("tail", tail), ("renormalised", renorm)):
        ours = ka_loss(student, cand, logq.float(), mask, reduction="none", form=form).double()
        torch.testing.assert_close(ours, expected, rtol=1e-5, atol=1e-5)
        assert (ours >= -1e-6).all() and (ours <= full + 1e-5).all()
    with pytest.raises(ValueError, match="form must be one of"):
        ka_loss(student, cand, logq.float(), mask, form="truncated")  # type: ignore[arg-type]


@pytest.mark.parametrize("form", ["tail", "renormalised"])
def test_ka_gradcheck(form: str) -> None:
    student = _logits(25, torch.float64, (2, 3, 6)).requires_grad_(True)
    cand = student_candidates(student, 3)
    logq = F.log_softmax(_logits(26, torch.float64, (2, 3, 6)), -1).gather(-1, cand)
    mask = torch.tensor([[True, False, True], [True, True, False]])
    assert torch.autograd.gradcheck(
        lambda s: ka_loss(s, cand, logq, mask, reduction="none", form=form), (student,))  # type: ignore[arg-type]


def test_ka_exact_gradcheck_and_teacher_is_constant() -> None:
    student = _logits(27, torch.float64, (2, 3, 6)).requires_grad_(True)
    teacher = _logits(28, torch.float64, (2, 3, 6)).requires_grad_(True)
    mask = torch.tensor([[True, True, True], [True, False, False]])
    assert torch.autograd.gradcheck(lambda s: ka_exact_loss(s, teacher, mask, "sum"), (student,))
    ka_exact_loss(student, teacher, mask, "sum").backward()
    assert teacher.grad is None


def test_ka_ignores_padding_with_garbage_scores() -> None:
    student, teacher, mask = _logits(29), _logits(30), _mask()
    cand = student_candidates(student, 3)
    logq = F.log_softmax(teacher, -1).gather(-1, cand)
    garbage = logq.masked_fill(~mask.unsqueeze(-1), float("nan"))
    student = student.requires_grad_(True)
    loss = ka_loss(student, cand, garbage, mask, reduction="sum")
    loss.backward()
    torch.testing.assert_close(loss, ka_loss(student, cand, logq, mask, reduction="sum"))
    assert student.grad is not None and torch.all(student.grad[~mask] == 0)


def test_ka_sampled_value_is_the_per_token_log_ratio_and_gradient_the_score_function() -> None:
    student, teacher, mask = _logits(31, torch.float64), _logits(32, torch.float64), _mask()
    sampled = torch.randint(0, V, (B, T), generator=_gen(33))
    logq = F.log_softmax(teacher, -1).gather(-1, sampled.unsqueeze(-1)).squeeze(-1)
    logp = F.log_softmax(student, -1).gather(-1, sampled.unsqueeze(-1)).squeeze(-1)
    student = student.requires_grad_(True)
    ours = ka_sampled_loss(student, sampled, logq, mask, reduction="none")
    torch.testing.assert_close(ours, (logp - logq) * mask)
    ka_sampled_loss(student, sampled, logq, mask, reduction="sum").backward()
    surrogate = student.detach().clone().requires_grad_(True)
    logp_s = F.log_softmax(surrogate, -1).gather(-1, sampled.unsqueeze(-1)).squeeze(-1)
    ((logp - logq) * logp_s * mask).sum().backward()
    assert student.grad is not None and surrogate.grad is not None
    torch.testing.assert_close(student.grad, surrogate.grad)
    with pytest.raises(ValueError, match="sampled_logq must have the same shape"):
        ka_sampled_loss(student, sampled, logq[:, :2], mask)


def test_ka_rejects_bad_inputs() -> None:
    student, mask = _logits(0), _mask()
    cand = student_candidates(student, 3)
    with pytest.raises(ValueError, match="cand_logq must have the same shape as cand_ids"):
        ka_loss(student, cand, torch.zeros(B, T, 2), mask)
    with pytest.raises(ValueError, match="cand_ids must be a long"):
        ka_loss(student, cand.int(), torch.zeros(B, T, 3), mask)
    with pytest.raises(ValueError, match="teacher_logits must have the same shape"):
        ka_exact_loss(student, student[..., :-1], mask)
    with pytest.raises(ValueError, match=r"mask must have shape \[B, T\]"):
        ka_exact_loss(student, student, mask[:, :2])


# ------------------------------------------------------------------------------------ student_candidates


def test_student_candidates_top_k_and_no_grad() -> None:
    logits = _logits(40).requires_grad_(True)
    cand = student_candidates(logits, 4)
    assert cand.dtype == torch.long and cand.shape == (B, T, 4) and not cand.requires_grad
    torch.testing.assert_close(cand, logits.detach().topk(4, dim=-1).indices)


def test_student_candidates_sampling_is_distinct_reproducible_and_follows_p() -> None:
    logits = _logits(41)
    first = student_candidates(logits, V, sample=True, generator=_gen(7))
    again = student_candidates(logits, V, sample=True, generator=_gen(7))
    assert torch.equal(first, again)
    assert torch.equal(first.sort(-1).values, torch.arange(V).expand(B, T, V))
    probs = torch.tensor([0.5, 0.3, 0.15, 0.05])
    draws = student_candidates(probs.log().expand(1, 20000, 4), 1, sample=True, generator=_gen(8))
    freq = torch.bincount(draws.flatten(), minlength=4).float() / draws.numel()
    torch.testing.assert_close(freq, probs, atol=0.015, rtol=0)


def test_student_candidates_rejects_bad_k() -> None:
    for k in (0, V + 1, 2.5, True):
        with pytest.raises(ValueError, match=r"k must be an integer in \[1, V=11\]"):
            student_candidates(_logits(0), k)  # type: ignore[arg-type]


# ------------------------------------------------------------------------------------------ mixtures


@pytest.mark.parametrize("beta", [0.0, 0.5, 0.8, 1.0])
def test_jsd_is_beta_mixture_of_ka_and_kd(beta: float) -> None:
    student, teacher, mask = _logits(50), _logits(51), _mask()
    ids, logq, rest = _teacher_topk(teacher, 4)
    cand = student_candidates(student, 3)
    cand_logq = F.log_softmax(teacher, -1).gather(-1, cand)
    ka = ka_loss(student, cand, cand_logq, mask, reduction="none")
    kd = word_kd_loss(student, ids, logq, rest, mask, reduction="none")
    ours = jsd_loss(student, ids, logq, rest, cand, cand_logq, mask, beta=beta, reduction="none")
    torch.testing.assert_close(ours, beta * ka + (1 - beta) * kd)
    with pytest.raises(ValueError, match="beta must be a number in"):
        jsd_loss(student, ids, logq, rest, cand, cand_logq, mask, beta=-0.1)


def test_mix_with_nll() -> None:
    nll, other = torch.tensor(2.0), torch.tensor(6.0)
    torch.testing.assert_close(mix_with_nll(nll, other, 0.25), torch.tensor(3.0))
    torch.testing.assert_close(mix_with_nll(nll, other, 0.0), nll)
    with pytest.raises(ValueError, match=r"weight must be a number in \[0, 1\]"):
        mix_with_nll(nll, other, 1.5)
    with pytest.raises(ValueError, match="same shape"):
        mix_with_nll(nll, torch.ones(B, T), 0.5)


# -------------------------------------------------------------------------------------------- TIE-KD


def _one_position(values: list[float]) -> torch.Tensor:
    return torch.tensor(values).reshape(1, 1, -1).requires_grad_(True)


ONE = torch.ones(1, 1, dtype=torch.bool)


def test_tie_kd_is_zero_when_ranking_satisfies_margins() -> None:
    logits = _one_position([5.0, 0.0, 3.5, -1.0, 2.0])  # teacher ranking 0 > 2 > rest, margins >= 1.5
    loss = tie_kd_loss(logits, torch.tensor([[[0, 2]]]), ONE, margin=1.5, reduction="sum")
    loss.backward()
    assert loss.item() == 0.0
    assert logits.grad is not None and torch.all(logits.grad == 0)


def test_tie_kd_top1_violation_closed_form_and_gradient() -> None:
    logits = _one_position([0.0, 3.0, 2.0, 1.0, -1.0])  # teacher top-1 is id 2, student prefers id 1
    loss = tie_kd_loss(logits, torch.tensor([[[2, 1]]]), ONE, margin=1.0, reduction="sum")
    loss.backward()
    torch.testing.assert_close(loss.detach(), torch.tensor(2.0))  # (a) 1 - (2 - 3) = 2, (b) 1 - (2 - 1) = 0
    torch.testing.assert_close(logits.grad, torch.tensor([[[0.0, 1.0, -1.0, 0.0, 0.0]]]))


def test_tie_kd_set_violation_closed_form_and_descent() -> None:
    logits = _one_position([0.0, 3.0, 2.0, 2.5, -1.0])  # top-k {1, 2}; non-top-k id 3 beats id 2
    ids = torch.tensor([[[1, 2]]])
    loss = tie_kd_loss(logits, ids, ONE, margin=1.0, reduction="sum")
    loss.backward()
    torch.testing.assert_close(loss.detach(), torch.tensor(2.0))  # (a) 1 - 0.5 = 0.5, (b) 1 + 0.5 = 1.5
    assert logits.grad is not None
    torch.testing.assert_close(logits.grad, torch.tensor([[[0.0, -1.0, -1.0, 2.0, 0.0]]]))
    stepped = (logits - 0.1 * logits.grad).detach()
    assert tie_kd_loss(stepped, ids, ONE, margin=1.0, reduction="sum") < loss


def test_tie_kd_full_vocabulary_set_term_and_masking() -> None:
    logits, mask = _logits(60), _mask()
    all_ids = torch.arange(V).expand(B, T, V).contiguous()
    top1_only = tie_kd_loss(logits, all_ids, mask, reduction="none", set_weight=1.0)
    torch.testing.assert_close(top1_only, tie_kd_loss(logits, all_ids, mask, reduction="none",
                                                      set_weight=0.0))
    assert torch.all(top1_only[~mask] == 0)
    assert torch.isfinite(top1_only).all()


def test_tie_kd_rejects_bad_inputs() -> None:
    with pytest.raises(ValueError, match="at least 2 ids"):
        tie_kd_loss(torch.zeros(1, 1, 1), torch.zeros(1, 1, 1, dtype=torch.long), ONE)
    with pytest.raises(ValueError, match="margin must be a non-negative number"):
        tie_kd_loss(_logits(0), torch.zeros(B, T, 1, dtype=torch.long), _mask(), margin=-1.0)


# --------------------------------------------------------------------------------- shared reductions


def _call_each_loss(reduction: str) -> list[torch.Tensor]:
    student, teacher, mask = _logits(70), _logits(71), _mask()
    ids, logq, rest = _teacher_topk(teacher, 3)
    cand = student_candidates(student, 3)
    cand_logq = F.log_softmax(teacher, -1).gather(-1, cand)
    target = torch.randint(0, V - 1, (B, T), generator=_gen(72)).masked_fill(~mask, PAD)
    return [
        nll_loss(student, target, PAD, reduction=reduction),
        word_kd_loss(student, ids, logq, rest, mask, reduction=reduction),
        ka_loss(student, cand, cand_logq, mask, reduction=reduction),
        ka_exact_loss(student, teacher, mask, reduction=reduction),
        jsd_loss(student, ids, logq, rest, cand, cand_logq, mask, reduction=reduction),
        tie_kd_loss(student, ids, mask, reduction=reduction),
    ]


def test_reductions_are_consistent_for_every_loss() -> None:
    mask = _mask()
    for none, total, mean in zip(*(_call_each_loss(r) for r in ("none", "sum", "mean")), strict=True):
        assert none.shape == (B, T) and total.shape == () and mean.shape == ()
        assert torch.all(none[~mask] == 0)
        torch.testing.assert_close(none.sum(), total)
        torch.testing.assert_close(total / mask.sum(), mean)


def test_mean_of_fully_masked_batch_is_zero() -> None:
    empty = torch.zeros(B, T, dtype=torch.bool)
    loss = ka_exact_loss(_logits(0), _logits(1), empty)
    assert loss.item() == 0.0


def test_unknown_reduction_is_rejected_by_every_loss() -> None:
    with pytest.raises(LossInputError, match=r"reduction must be one of \('sum', 'mean', 'none'\)"):
        _call_each_loss("batchmean")
