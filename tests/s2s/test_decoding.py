"""Batched greedy and beam decoding of a tiny random model agrees with unbatched transformers generate."""

from __future__ import annotations

from pathlib import Path

import torch

from s2s.checkpoint import load_checkpoint
from s2s.decoding import generate_nbest, translate

SENTENCES = ["Y dijo Dios: Sea la luz.", "EN el principio crió Dios los cielos y la tierra.", "Amén."]


def _reference(model: torch.nn.Module, ids: list[int], beams: int, nbest: int = 1) -> list[list[int]]:
    out = model.generate(input_ids=torch.tensor([ids]), num_beams=beams, num_return_sequences=nbest,
                         max_new_tokens=20, do_sample=False)
    return [[t for t in row[1:] if t != model.config.pad_token_id] for row in out.tolist()]


def test_greedy_batched_equals_one_by_one(micro_checkpoint: Path) -> None:
    ck = load_checkpoint(micro_checkpoint)
    src = ck.tokenizer.encode_batch(SENTENCES)
    hyps = generate_nbest(ck.model, src, ck.tokenizer.pad_id, beam_size=1, max_len=20)
    for ids, h in zip(src, hyps, strict=True):
        assert [h[0].ids] == _reference(ck.model, ids, 1)
        assert h[0].score <= 0.0


def test_beam_nbest_equals_transformers(micro_checkpoint: Path) -> None:
    ck = load_checkpoint(micro_checkpoint)
    src = ck.tokenizer.encode_batch(SENTENCES)
    hyps = generate_nbest(ck.model, src, ck.tokenizer.pad_id, beam_size=4, nbest=3, max_len=20)
    for ids, h in zip(src, hyps, strict=True):
        assert [x.ids for x in h] == _reference(ck.model, ids, 4, 3)
        assert [x.score for x in h] == sorted((x.score for x in h), reverse=True)


def test_translate_returns_text_in_input_order(micro_checkpoint: Path) -> None:
    ck = load_checkpoint(micro_checkpoint)
    out = translate(ck.model, ck.tokenizer, SENTENCES, beam_size=2, max_len=10)
    singles = [translate(ck.model, ck.tokenizer, [s], beam_size=2, max_len=10)[0] for s in SENTENCES]
    assert out == singles and all(isinstance(t, str) for t in out)
