"""Lexical shortlists: the co-occurrence ranking on a closed case, the vocabulary-map file, coverage, and a
shortlisted CTranslate2 export that decodes only allowed words, batch after batch."""

from __future__ import annotations

from pathlib import Path

import pytest

from s2s.ct2_runtime import Ct2Model
from s2s.errors import KDError
from s2s.export import export_checkpoint
from s2s.shortlist import Shortlist, build_shortlist, coverage, write_vmap
from s2s.tokenizer import Tokenizer

PAIRS = [("Dios", "God"), ("Dios dijo", "God said"), ("luz", "light"), ("dijo luz", "said light")]


def _pieces(tokenizer: Tokenizer, text: str, side: str) -> list[str]:
    encode = tokenizer.encode_source if side == "source" else tokenizer.encode_target
    return [tokenizer.id_to_piece[i] for i in encode(text) if i != tokenizer.eos_id]


def test_candidates_are_ranked_by_conditional_probability(tokenizer: Tokenizer) -> None:
    shortlist = build_shortlist(tokenizer, PAIRS, per_source=1, frequent=0)
    (dios,) = _pieces(tokenizer, "Dios", "source")
    (god,) = _pieces(tokenizer, "God", "target")
    (luz,) = _pieces(tokenizer, "luz", "source")
    (light,) = _pieces(tokenizer, "light", "target")
    # p(God | Dios) = 2/2 beats p(said | Dios) = 1/2; p(light | luz) = 2/2.
    assert shortlist.candidates[dios] == (god,) and shortlist.candidates[luz] == (light,)
    assert shortlist.for_source([dios]) == {god} and shortlist.frequent == ()
    everything = build_shortlist(tokenizer, PAIRS, per_source=50, frequent=0)
    assert coverage(everything, tokenizer, PAIRS) == 1.0
    # Only the best candidate per source piece: p(Lord | Dios) = 1/3 loses to p(God | Dios) = 2/3.
    pairs = [*PAIRS, ("Dios", "Lord")]
    lord = len(_pieces(tokenizer, "Lord", "target"))
    total = sum(len(_pieces(tokenizer, t, "target")) for _, t in pairs)
    assert coverage(build_shortlist(tokenizer, pairs, 1, 0), tokenizer, pairs) == pytest.approx((total - lord) / total)


def test_frequent_targets_are_always_allowed_and_written_first(tokenizer: Tokenizer, tmp_path: Path) -> None:
    shortlist = build_shortlist(tokenizer, PAIRS, per_source=1, frequent=2)
    assert len(shortlist.frequent) == 2 and set(shortlist.frequent) <= shortlist.for_source([])
    lines = write_vmap(shortlist, tmp_path / "vmap.txt").read_text(encoding="utf-8").splitlines()
    assert lines[0] == "\t" + " ".join(shortlist.frequent)
    assert all(line.count("\t") == 1 and line.split("\t")[0] for line in lines[1:])
    assert len(lines) == 1 + len(shortlist.candidates)


def test_bad_arguments_are_refused(tokenizer: Tokenizer) -> None:
    with pytest.raises(KDError, match="per_source"):
        build_shortlist(tokenizer, PAIRS, per_source=0)
    with pytest.raises(KDError, match="at least one"):
        build_shortlist(tokenizer, [])


def test_shortlisted_export_decodes_only_allowed_words_batch_after_batch(
        micro_checkpoint: Path, tokenizer: Tokenizer, tmp_path: Path) -> None:
    """Every output piece is in the batch's shortlist, and a batch decodes the same after another batch
    with a larger shortlist as on a fresh model (CTranslate2 4.8.5 alone keeps the first batch's rows)."""
    frequent = tuple(tokenizer.id_to_piece[i] for i in range(2, 40))
    wide = {p: tuple(tokenizer.id_to_piece[i] for i in range(100 + 7 * k, 400 + 7 * k))
            for k, p in enumerate(_pieces(tokenizer, "En el principio creó Dios los cielos", "source"))}
    narrow = {p: tuple(tokenizer.id_to_piece[i] for i in range(2000, 2030))
              for p in _pieces(tokenizer, "Jesús lloró", "source")}
    shortlist = Shortlist(frequent, {**wide, **narrow})
    export_checkpoint(micro_checkpoint, tmp_path / "out", "float32", vmap=write_vmap(shortlist, tmp_path / "v.txt"))
    first, second = ["En el principio creó Dios los cielos"], ["Jesús lloró"]
    fresh = Ct2Model(tmp_path / "out").translate(second, max_len=12)
    model = Ct2Model(tmp_path / "out")
    assert model.info.vmap
    model.translate(first, max_len=12)
    assert model.translate(second, max_len=12) == fresh
    source = [tokenizer.id_to_piece[i] for i in tokenizer.encode_source(second[0])]
    hyp = Ct2Model(tmp_path / "out").translator.translate_batch([source], use_vmap=True, max_decoding_length=11)
    pieces = hyp[0].hypotheses[0]
    assert pieces and set(pieces) <= shortlist.for_source(source) | {"<unk>"}
    # Several batches in one call: each is restricted on its own.
    both = model.translate(first * 3 + second * 3, max_len=12, max_batch_size=3)
    assert both[3:] == fresh * 3
