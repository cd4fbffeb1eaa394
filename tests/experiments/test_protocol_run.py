"""The protocol driver's stage-1 bases: each is one stage-1 run, and stage 2 starts from it on its own data,
in folders and archives that no other base's runs share."""

from __future__ import annotations

from pathlib import Path

from experiments.protocol.run import BASES, DATA, ROWS, seq_kd_data, stage1_runs, stage2_runs


def test_every_base_is_one_stage1_run_from_the_shrunk_teacher_with_its_overrides(tmp_path: Path) -> None:
    runs = {r.name: r for r in stage1_runs(tmp_path)}
    assert set(runs) == {b.run for b in BASES.values()}
    for base in BASES.values():
        sets = runs[base.run].sets
        assert f"student.init_from={tmp_path / 'shrunk-3-1'}" in sets
        assert all(s in sets for s in base.sets)
        assert any(s.startswith("data.train=") and "seq_kd.tsv" in s for s in sets) == base.seq_kd
    assert "max_steps=2000" in runs["stage1-nll-long"].sets


def test_stage2_starts_from_its_base_and_trains_on_its_data(tmp_path: Path) -> None:
    for name, base in BASES.items():
        [run] = stage2_runs(tmp_path, name, ["control"], [1], "127.0.0.1:1")
        assert f"student.init_from={tmp_path / base.run / 'final'}" in run.sets
        train = seq_kd_data(tmp_path) if base.seq_kd else DATA / "train.tsv"
        assert f"data.train={train}" in run.sets


def test_no_two_bases_share_a_stage2_folder_or_archive(tmp_path: Path) -> None:
    runs = [r for name in BASES for r in stage2_runs(tmp_path, name, list(ROWS), [1, 2], "127.0.0.1:1")]
    assert len({r.out for r in runs}) == len(runs)
    assert len({r.archive for r in runs}) == len(runs)
