"""Helpers on subsets of the vocabulary (teacher top-k ids, student candidate sets)."""

from __future__ import annotations

import torch


def membership_mask(ids: torch.Tensor, vocab_size: int) -> torch.Tensor:
    """Return a bool [B, T, V] tensor that is True where a vocabulary id occurs in ``ids`` [B, T, k]."""
    member = torch.zeros(*ids.shape[:2], vocab_size, dtype=torch.bool, device=ids.device)
    return member.scatter_(-1, ids, True)


def log_mass_outside(logp: torch.Tensor, ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Log of the probability mass outside ``ids``, computed stably as a logsumexp over the complement.

    Args:
        logp: [B, T, V] normalised log-probabilities.
        ids: [B, T, k] vocabulary ids (duplicates are harmless here).

    Returns:
        ``(log_rest, has_rest)``: [B, T] ``log(1 - Σ_{y∈ids} p(y))`` and a [B, T] bool that is False where
        ``ids`` covers the whole vocabulary. There ``log_rest`` is a finite placeholder (not ``-inf``) so
        that callers can drop the term with ``torch.where`` without NaN gradients.
    """
    inside = membership_mask(ids, logp.shape[-1])
    has_rest = ~inside.all(dim=-1)
    outside = logp.masked_fill(inside, float("-inf"))
    outside = outside.masked_fill(~has_rest.unsqueeze(-1), 0.0)
    return torch.logsumexp(outside, dim=-1), has_rest
