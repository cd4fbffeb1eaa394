"""Translating with a CTranslate2 export: which texts share a call, and lengths capped at the position limit."""

from __future__ import annotations

from pathlib import Path

from s2s.ct2_runtime import Ct2Model, length_groups
from s2s.export import export_checkpoint


def test_length_groups_share_greedy_calls_but_split_beam_search() -> None:
    assert length_groups([5, 9, 5], beam_size=1) == {9: [0, 1, 2]}
    assert length_groups([5, 9, 5], beam_size=4) == {5: [0, 2], 9: [1]}
    assert length_groups([], beam_size=1) == {}


def test_decoding_length_is_capped_at_the_position_limit(micro_checkpoint: Path, tmp_path: Path) -> None:
    export_checkpoint(micro_checkpoint, tmp_path / "out", "int8")
    (out,) = Ct2Model(tmp_path / "out").translate(["Hola"], max_len=1000)
    assert 0 < len(out.split()) < 128
