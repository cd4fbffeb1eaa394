"""`InProcessTeacher`: the teacher client's API on a model in this process."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from s2s.errors import VocabularyMismatchError
from s2s.local_teacher import InProcessTeacher
from s2s.teacher.contract import TeacherInputError
from s2s.tokenizer import Tokenizer

SPANISH = ["En el principio crió Dios los cielos y la tierra.", "Y dijo Dios: Sea la luz: y fué la luz.",
           "Y vió Dios que la luz era buena."]
ENGLISH = ["In the beginning God created the heaven and the earth.", "And God said, Let there be light.",
           "And God saw the light, that it was good."]


@pytest.fixture(scope="module")
def pairs(tokenizer: Tokenizer) -> tuple[list[np.ndarray], list[np.ndarray]]:
    return ([np.array(tokenizer.encode_source(s)) for s in SPANISH],
            [np.array(tokenizer.encode_target(t)) for t in ENGLISH])


def test_in_process_teacher_has_the_client_api(micro_checkpoint: Path, tokenizer: Tokenizer, pairs: tuple) -> None:
    src, tgt = ([s.tolist() for s in side] for side in pairs)
    with InProcessTeacher(micro_checkpoint, device="cpu", max_batch_tokens=64) as teacher:
        info = teacher.check_compatible(tokenizer.fingerprint)
        assert (info.model_id, info.vocab_size, info.max_batch_tokens) == ("micro", tokenizer.vocab_size, 64)
        with pytest.raises(VocabularyMismatchError, match="student vocabulary has fingerprint 0000000000000000"):
            teacher.check_compatible("0" * 64)
        top = teacher.topk_async(src, tgt, 5).result(30)
        scores = teacher.score_async(src, tgt, [r.ids for r in top]).result(30)
        for r, s in zip(top, scores, strict=True):
            np.testing.assert_allclose(s, r.logq, atol=1e-5)
        hyps = teacher.generate_async(src[:1], 2, 2, 6).result(30)
        assert len(hyps[0]) == 2
        with pytest.raises(TeacherInputError, match="k = 0"):
            teacher.topk(src, tgt, 0)
        stats = teacher.stats()
    assert (stats["requests"], stats["errors"], stats["sentences"]) == (4, 1, 3 + 3 + 1 + 3)
    assert stats["teacher_wait_s"] > 0

