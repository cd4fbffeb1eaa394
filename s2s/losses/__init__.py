"""Distillation losses: pure functions on tensors (no I/O), float32 (or float64) inside, explicit reductions.

Notation: p = student, q = teacher, t = target position, V = vocabulary. Shapes: ``student_logits``
[B, T, V], ``target``/``mask`` [B, T], teacher top-k / candidate tensors [B, T, k]. Every loss takes
``reduction`` in ``"mean"`` (sum over real positions / number of real positions), ``"sum"`` or ``"none"``
(a [B, T] tensor with zeros at padding); see ``s2s.losses.reduction``. Bad arguments raise
``LossInputError``, a ``ValueError``.
"""

from s2s.losses.checks import REDUCTIONS, LossInputError, Reduction
from s2s.losses.cmlm import cmlm_loss
from s2s.losses.forward_kd import word_kd_loss
from s2s.losses.mixtures import jsd_loss, mix_with_nll
from s2s.losses.nll import nll_loss
from s2s.losses.ranking import tie_kd_loss
from s2s.losses.reduction import reduce_tokens
from s2s.losses.reverse_kd import KA_FORMS, KAForm, ka_exact_loss, ka_loss, ka_sampled_loss, student_candidates
from s2s.losses.sampled_kd import sampled_kd_loss

__all__ = [
    "KA_FORMS",
    "REDUCTIONS",
    "KAForm",
    "cmlm_loss",
    "LossInputError",
    "Reduction",
    "jsd_loss",
    "ka_exact_loss",
    "ka_loss",
    "ka_sampled_loss",
    "mix_with_nll",
    "nll_loss",
    "reduce_tokens",
    "sampled_kd_loss",
    "student_candidates",
    "tie_kd_loss",
    "word_kd_loss",
]
