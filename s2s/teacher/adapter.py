"""What a loaded teacher checkpoint contributes to the contract: its identity, and Generate's text side.

The teacher service and `InProcessTeacher` both describe their model with `teacher_info` and both accept
sources as text and return each hypothesis's text through the two functions below, so that a caller with
another vocabulary (a student with its own tokenizer) distils at the sequence level without the teacher's
tokenizer, whatever the teacher's family.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from s2s.checkpoint import Checkpoint
from s2s.decoding import Hypothesis
from s2s.families.base import SeqTokenizer
from s2s.teacher.contract import TeacherInfo, TeacherInputError
from s2s.teacher.limits import TeacherLimits


def teacher_info(checkpoint: Checkpoint, limits: TeacherLimits) -> TeacherInfo:
    """The client-visible identity and limits of a loaded teacher."""
    tok, manifest = checkpoint.tokenizer, checkpoint.manifest
    return TeacherInfo(
        model_id=manifest.model_id, vocab_size=tok.vocab_size, vocab_fingerprint=tok.fingerprint,
        pad_id=tok.pad_id, eos_id=tok.eos_id, max_source_len=limits.max_source_len,
        max_target_len=limits.max_target_len, max_k=limits.max_k, max_batch_tokens=limits.max_batch_tokens,
        family=checkpoint.family.name, src_lang=tok.languages.src, tgt_lang=tok.languages.tgt)


def sources_from_texts(tokenizer: SeqTokenizer, texts: Sequence[object], limits: TeacherLimits) -> list[np.ndarray]:
    """Encoder ids of source texts (task prefix or language code included), cut to the source length limit
    as the gateway cuts them; anything but a string is refused by position."""
    for i, text in enumerate(texts):
        if not isinstance(text, str):
            raise TeacherInputError(f"sentence {i}: source text must be a string, got {type(text).__name__}")
    ids = tokenizer.encode_batch([str(t) for t in texts], "source", limits.max_source_len)
    return [np.asarray(x, dtype=np.int64) for x in ids]


def with_texts(tokenizer: SeqTokenizer, nbests: Sequence[Sequence[Hypothesis]]) -> list[list[Hypothesis]]:
    """The n-best lists with every hypothesis's text (detokenised by the teacher's tokenizer)."""
    return [[Hypothesis(h.ids, h.score, " ".join(tokenizer.decode(h.ids).split())) for h in hyps] for hyps in nbests]
