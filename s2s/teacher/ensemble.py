"""Several teachers of one vocabulary served as one: the weighted mean of their next-token probabilities.

An `Ensemble` goes wherever `s2s.teacher.compute` takes a model. Teacher forcing (TopK, Score) answers
from the mixture `q(y) = sum_i w_i q_i(y)`, computed in log space as `logsumexp_i(log q_i(y) + log w_i)`, so
a member that puts almost no mass somewhere cannot underflow the mixture. Generate runs a beam search over
all members' decoders at once (`s2s.teacher.ensemble_search`), the members' next-token probabilities
averaged at every step; at beam 1 that is greedy decoding of the averaged model.

Members are Hugging Face models, or any object `compute` accepts (a CTranslate2 scorer for TopK and Score);
they must share one vocabulary (`check_members` refuses others, naming both) and one output width.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from s2s.checkpoint import Checkpoint
from s2s.decoding import Hypothesis
from s2s.errors import KDError, VocabularyMismatchError
from s2s.families.base import max_positions
from s2s.teacher import compute


def check_members(checkpoints: Sequence[Checkpoint]) -> None:
    """Refuse members that do not share one vocabulary (naming both folders), one output width or one
    forced first target token: their distributions could not be averaged token by token."""
    first = checkpoints[0]
    for other in checkpoints[1:]:
        a, b = first.tokenizer, other.tokenizer
        if a.fingerprint != b.fingerprint:
            raise VocabularyMismatchError(
                f"ensemble members must share one vocabulary: {first.path} has fingerprint {a.fingerprint[:16]}…, "
                f"{other.path} has {b.fingerprint[:16]}…; serve them as separate teachers, or distil from "
                "teachers trained on one tokenizer")
        if _output_width(first.model) != _output_width(other.model):
            raise VocabularyMismatchError(
                f"ensemble members must have one output layer width: {first.path} has "
                f"{_output_width(first.model)}, {other.path} has {_output_width(other.model)}")
        if a.forced_bos_id != b.forced_bos_id:
            raise KDError(f"ensemble members must start targets alike: {first.path} forces id {a.forced_bos_id}, "
                          f"{other.path} forces {b.forced_bos_id}; give both the same --tgt-lang")


def _output_width(model: Any) -> int:
    config = model.config
    return int(getattr(config, "decoder_vocab_size", None) or config.vocab_size)


class Ensemble:
    """Members and their normalised weights, behaving as one model towards `s2s.teacher.compute`."""

    def __init__(self, members: Sequence[Any], weights: Sequence[float]) -> None:
        if len(members) < 2:
            raise KDError("an ensemble needs at least two members")
        if len(weights) != len(members) or not all(w > 0 for w in weights):
            raise KDError(f"an ensemble of {len(members)} members needs as many positive weights, got {weights}")
        total = float(sum(weights))
        self.members = tuple(members)
        self.weights = tuple(float(w) / total for w in weights)
        self.log_weights = [math.log(w) for w in self.weights]
        # Limits come from the most restrictive member (`limits_for` reads `config`).
        self.config = copy.copy(members[0].config)
        self.config.max_position_embeddings = min(max_positions(m.config) for m in members)

    @property
    def device(self) -> torch.device:
        return compute.model_device(self.members[0])

    def forced_logits(self, src: Sequence[np.ndarray], tgt: Sequence[np.ndarray], pad_id: int) -> torch.Tensor:
        """log of the mixture's probabilities [B, T, V] under teacher forcing (rows already normalised)."""
        mixed: torch.Tensor | None = None
        for member, log_w in zip(self.members, self.log_weights, strict=True):
            logq = torch.log_softmax(compute.teacher_forced_logits(member, src, tgt, pad_id), dim=-1) + log_w
            mixed = logq if mixed is None else torch.logaddexp(mixed, logq)
        assert mixed is not None
        return mixed

    def nbest(self, src: Sequence[np.ndarray], pad_id: int, beam_size: int, n: int, max_len: int, max_tokens: int,
              forced_bos_id: int | None = None) -> list[list[Hypothesis]]:
        """Ensemble beam search n-best lists (scores length-normalised, as `compute.nbest` ranks them)."""
        from s2s.teacher.ensemble_search import ensemble_nbest

        return ensemble_nbest(self.members, self.log_weights, [[int(x) for x in s] for s in src], pad_id,
                              beam_size, n, max_len, max_tokens, forced_bos_id)
