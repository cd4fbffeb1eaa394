"""Knowledge Acquisition (KA): reverse KL from the student towards the teacher, and its candidate sets.

KA scores the student's *own* likely tokens with the teacher (precision, mode seeking): at each target
position t the student proposes a candidate set C_t (``student_candidates``), the teacher's ``Score``
RPC returns log q for those ids, and ``ka_loss`` computes ``Σ_{y∈C_t} p(y)(log p(y) - log q(y))``.
With C_t = V this is exactly KL(p‖q), which ``ka_exact_loss`` computes from full teacher logits.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from s2s.losses.checks import (
    LossInputError,
    check_floating,
    check_logits,
    check_mask,
    check_same_shape,
    check_token_ids,
)
from s2s.losses.precision import upcast
from s2s.losses.reduction import reduce_tokens


def ka_loss(
    student_logits: torch.Tensor,
    cand_ids: torch.Tensor,
    cand_logq: torch.Tensor,
    mask: torch.Tensor,
    reduction: str = "mean",
    renormalise: bool = False,
) -> torch.Tensor:
    """Reverse KL restricted to the candidate set: ``Σ_t Σ_{y∈C_t} p(y) (log p(y) - log q(y))``.

    Gradients flow through p (both the weight p(y) and log p(y)); the teacher's log q is a constant.
    With ``renormalise=False`` p is the full-vocabulary softmax, so for C_t ⊂ V the value is a truncated
    sum and may be negative; with C_t = V it equals KL(p‖q). With ``renormalise=True`` p is renormalised
    over C_t (softmax of the candidate logits), the "proactive" top-k restriction. Candidate ids must be
    distinct per position; values at masked positions are ignored.

    Args:
        student_logits: [B, T, V] logits of p (computed in float32 or wider, see ``precision``).
        cand_ids: [B, T, k'] long candidate ids C_t, 1 <= k' <= V.
        cand_logq: [B, T, k'] float teacher log q of those ids (from ``Score``).
        mask: [B, T] bool, True at real target positions.
        reduction: ``"mean"`` (per real token), ``"sum"`` or ``"none"`` ([B, T], zeros at padding).
        renormalise: renormalise p over C_t instead of using the full-vocabulary p.

    Returns:
        A float32 scalar (float64 for float64 logits), or [B, T] for ``"none"``.
    """
    batch, length, vocab = check_logits(student_logits)
    check_mask(mask, batch, length)
    check_token_ids(cand_ids, "cand_ids", batch, length, vocab)
    check_floating(cand_logq, "cand_logq")
    check_same_shape(cand_logq, "cand_logq", cand_ids, "cand_ids")
    logits = upcast(student_logits)
    if renormalise:
        logp = F.log_softmax(logits.gather(-1, cand_ids), dim=-1)
    else:
        logp = F.log_softmax(logits, dim=-1).gather(-1, cand_ids)
    logq = upcast(cand_logq).masked_fill(~mask.unsqueeze(-1), 0.0)
    per_token = (logp.exp() * (logp - logq)).sum(dim=-1)
    return reduce_tokens(per_token, mask, reduction)


def ka_exact_loss(
    student_logits: torch.Tensor,
    teacher_logits: torch.Tensor,
    mask: torch.Tensor,
    reduction: str = "mean",
) -> torch.Tensor:
    """Exact full-vocabulary reverse KL: ``Σ_t KL(p_t‖q_t) = Σ_t Σ_v p(v)(log p(v) - log q(v))``.

    Needs the teacher's full logits (a local teacher, or tests); the teacher is treated as a constant.

    Args:
        student_logits: [B, T, V] logits of p (float32 or wider inside).
        teacher_logits: [B, T, V] logits of q, same shape.
        mask: [B, T] bool, True at real target positions.
        reduction: ``"mean"`` (per real token), ``"sum"`` or ``"none"`` ([B, T], zeros at padding).

    Returns:
        A float32 scalar (float64 for float64 logits), or [B, T] for ``"none"``.
    """
    batch, length, _ = check_logits(student_logits)
    check_logits(teacher_logits, "teacher_logits")
    check_same_shape(teacher_logits, "teacher_logits", student_logits, "student_logits")
    check_mask(mask, batch, length)
    logp = F.log_softmax(upcast(student_logits), dim=-1)
    logq = F.log_softmax(upcast(teacher_logits.detach()), dim=-1)
    per_token = (logp.exp() * (logp - logq)).sum(dim=-1)
    return reduce_tokens(per_token, mask, reduction)


@torch.no_grad()
def student_candidates(
    student_logits: torch.Tensor,
    k: int,
    sample: bool = False,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """The student's own candidate set C_t per position, to send to the teacher's ``Score`` RPC.

    ``sample=False`` returns the top-k ids (descending logit). ``sample=True`` draws k distinct ids from
    p without replacement via the Gumbel-top-k trick (argtop-k of logits + Gumbel noise), which never
    fails on underflowed probabilities as ``torch.multinomial`` can. No gradient is recorded.

    Args:
        student_logits: [B, T, V] logits of p.
        k: candidates per position, 1 <= k <= V.
        sample: sample without replacement instead of taking the top-k.
        generator: optional RNG (on the logits' device) for reproducible sampling.

    Returns:
        A long tensor [B, T, k] of distinct vocabulary ids.
    """
    _, _, vocab = check_logits(student_logits)
    if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= vocab:
        raise LossInputError(f"k must be an integer in [1, V={vocab}], got {k!r}")
    keys = upcast(student_logits)
    if sample:
        uniform = torch.rand(keys.shape, generator=generator, device=keys.device, dtype=keys.dtype)
        tiny = torch.finfo(keys.dtype).tiny
        keys = keys - torch.log(-torch.log(uniform.clamp(min=tiny, max=1.0 - 1e-7)))
    return keys.topk(k, dim=-1).indices
