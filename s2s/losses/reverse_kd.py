"""Knowledge Acquisition (KA): reverse KL from the student towards the teacher, and its candidate sets.

KA scores the student's *own* likely tokens with the teacher (precision, mode seeking). At each target
position t the student proposes a candidate set C_t (``student_candidates``: its top-k' or a sample) and
the teacher's ``Score`` RPC returns log q for those ids. Three estimators of ``KL(p_t‖q_t)``:

* ``ka_loss``: the KL between p and q coarsened to the k'+1 outcomes ``C_t ∪ {rest}`` (tail form), or
  between p and q renormalised on C_t. Both are divergences (>= 0, zero exactly when p and q agree on the
  outcomes), both lower-bound the full reverse KL, and with C_t = V both equal it. The bare truncated sum
  ``Σ_{y∈C_t} p(y) log(p(y)/q(y))`` is *not* used: each of its terms is minimised at p = q/e, so it
  pushes mass out of the student's best guesses.
* ``ka_exact_loss``: the exact full-vocabulary KL from the teacher's full logits (an in-process teacher).
* ``ka_sampled_loss``: the single-sample on-policy estimator. With y_t drawn from p itself, the loss
  ``-Σ_t sg(log q(y_t) - log p(y_t)) · log p(y_t)`` has the expected gradient of ``Σ_t KL(p_t‖q_t)`` at
  the visited prefixes, and needs log q of just one token per position (the KA reward r_t = log q).
"""

from __future__ import annotations

from typing import Literal

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
from s2s.losses.subsets import log_mass_outside

KAForm = Literal["tail", "renormalised"]
KA_FORMS: tuple[str, ...] = ("tail", "renormalised")
# 1 - Q_C is floored here: the teacher's wire log-probs are float16, so Σ_C q may round to >= 1.
_MIN_REST = 1e-6


def ka_loss(
    student_logits: torch.Tensor,
    cand_ids: torch.Tensor,
    cand_logq: torch.Tensor,
    mask: torch.Tensor,
    reduction: str = "mean",
    form: KAForm = "tail",
) -> torch.Tensor:
    """Reverse KL on the candidate set C_t: a divergence between p and q over ``C_t ∪ {rest}`` or on C_t.

    ``form="tail"`` (default): with ``P_C = Σ_{y∈C} p(y)`` and ``Q_C = Σ_{y∈C} q(y)``, per position
    ``Σ_{y∈C} p(y) log(p(y)/q(y)) + (1 - P_C) log((1 - P_C)/(1 - Q_C))``; p is the full-vocabulary
    softmax, so the student is also told how much mass to keep outside its candidates. When C_t = V the
    rest term vanishes and this is exactly ``KL(p‖q)``.

    ``form="renormalised"``: ``KL(p̃‖q̃)`` with p and q both renormalised over C_t (p̃ = softmax of the
    candidate logits, q̃ = softmax of ``cand_logq``): it only shapes the student's distribution inside C_t.

    Gradients flow through p; the teacher's log q is a constant. Candidate ids must be distinct per
    position; values at masked positions are ignored (they may be garbage).

    Args:
        student_logits: [B, T, V] logits of p (computed in float32 or wider, see ``precision``).
        cand_ids: [B, T, k'] long candidate ids C_t, 1 <= k' <= V.
        cand_logq: [B, T, k'] float teacher log q of those ids (from ``Score``), normalised over V.
        mask: [B, T] bool, True at real target positions.
        reduction: ``"mean"`` (per real token), ``"sum"`` or ``"none"`` ([B, T], zeros at padding).
        form: ``"tail"`` or ``"renormalised"``.

    Returns:
        A float32 scalar (float64 for float64 logits), or [B, T] for ``"none"``.
    """
    batch, length, vocab = check_logits(student_logits)
    check_mask(mask, batch, length)
    check_token_ids(cand_ids, "cand_ids", batch, length, vocab)
    check_floating(cand_logq, "cand_logq")
    check_same_shape(cand_logq, "cand_logq", cand_ids, "cand_ids")
    if form not in KA_FORMS:
        raise LossInputError(f"form must be one of {KA_FORMS}, got {form!r}")
    logits = upcast(student_logits)
    logq = upcast(cand_logq).masked_fill(~mask.unsqueeze(-1), 0.0)
    if form == "renormalised":
        logp = F.log_softmax(logits.gather(-1, cand_ids), dim=-1)
        per_token = (logp.exp() * (logp - F.log_softmax(logq, dim=-1))).sum(dim=-1)
        return reduce_tokens(per_token, mask, reduction)
    full = F.log_softmax(logits, dim=-1)
    logp = full.gather(-1, cand_ids)
    per_token = (logp.exp() * (logp - logq)).sum(dim=-1)
    log_rest_p, has_rest = log_mass_outside(full, cand_ids)
    log_rest_q = torch.log((-torch.expm1(torch.logsumexp(logq, dim=-1))).clamp(min=_MIN_REST))
    rest_term = log_rest_p.exp() * (log_rest_p - log_rest_q)
    per_token = per_token + torch.where(has_rest, rest_term, torch.zeros_like(rest_term))
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


def ka_sampled_loss(
    student_logits: torch.Tensor,
    sampled_ids: torch.Tensor,
    sampled_logq: torch.Tensor,
    mask: torch.Tensor,
    reduction: str = "mean",
) -> torch.Tensor:
    """Single-sample on-policy estimator of the reverse KL: ``-Σ_t sg(log q(y_t) - log p(y_t)) · log p(y_t)``.

    ``y_t`` must have been sampled from this very p (temperature 1, same dropout state, nothing banned or
    filtered), e.g. the student's own translation fed back under teacher forcing; then the expected
    gradient is that of ``Σ_t KL(p_t‖q_t)`` at the visited prefixes (the score-function identity
    ``∇KL = E_{y~p}[(log p(y) - log q(y)) ∇log p(y)]``). The returned *value* is the per-token estimate
    ``log p(y_t) - log q(y_t)`` of ``KL(p_t‖q_t)`` (unbiased, so its mean over a batch is comparable with
    the other KA forms); the gradient is the estimator's.

    Args:
        student_logits: [B, T, V] logits of p under teacher forcing on the sampled sequence.
        sampled_ids: [B, T] long ids y_t that were sampled from p.
        sampled_logq: [B, T] float teacher log q(y_t) (``Score`` with one candidate per position).
        mask: [B, T] bool, True at real (sampled) positions.
        reduction: ``"mean"`` (per real token), ``"sum"`` or ``"none"`` ([B, T], zeros at padding).

    Returns:
        A float32 scalar (float64 for float64 logits), or [B, T] for ``"none"``.
    """
    batch, length, vocab = check_logits(student_logits)
    check_mask(mask, batch, length)
    check_token_ids(sampled_ids.unsqueeze(-1), "sampled_ids", batch, length, vocab)
    check_floating(sampled_logq, "sampled_logq")
    check_same_shape(sampled_logq, "sampled_logq", sampled_ids, "sampled_ids")
    logp = F.log_softmax(upcast(student_logits), dim=-1).gather(-1, sampled_ids.unsqueeze(-1)).squeeze(-1)
    logq = upcast(sampled_logq).masked_fill(~mask, 0.0)
    advantage = (logp - logq).detach()
    surrogate = advantage * logp
    per_token = advantage + (surrogate - surrogate.detach())
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
