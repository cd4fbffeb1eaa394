"""Issue 30's quality check is one command: stage 1 of its own base, stage 2 of Word-KD against the sampled
signal with three seeds, then the table; the smoke version runs the same steps tiny."""

from __future__ import annotations

from pathlib import Path

from experiments.protocol.plan import BASES, ROWS, stage1_runs, stage2_runs
from experiments.protocol.signals import BASE, commands


def _sets(argv: list[str]) -> list[str]:
    return [argv[i + 1] for i, a in enumerate(argv[:-1]) if a == "--set"]


def test_the_experiment_trains_its_base_then_both_rows_three_seeds_then_tables(tmp_path: Path) -> None:
    stage1, stage2, table = commands(tmp_path, 2, smoke=False)
    assert [c[1:3] for c in (stage1, stage2, table)] == [  # modules: the folder is a package, not scripts
        ["-m", "experiments.protocol.run"], ["-m", "experiments.protocol.run"], ["-m", "experiments.protocol.table"]]
    assert stage1[stage1.index("--only") + 1] == BASES[BASE].run == "stage1-nll-1k-sig"
    assert "max_steps=1000" in BASES[BASE].sets
    assert [stage2[stage2.index(f) + 1] for f in ("--base", "--rows", "--seeds", "--parallel")] == [
        BASE, "word_kd,word_kd_sampled", "1,2,3", "2"]
    assert _sets(stage2) == ["max_steps=150", "eval_every=50", "checkpoint_every=50"]
    assert table[-1] == "--no-docs" and table[table.index("--base") + 1] == BASE
    assert ROWS["word_kd_sampled"].kind == "word_kd_sampled" and ROWS["word_kd_sampled"].m == 12  # type: ignore[attr-defined]
    assert ROWS["word_kd"].k == 8  # type: ignore[attr-defined]
    assert BASE in {r.name.removeprefix("stage1-") for r in stage1_runs(tmp_path)}


def test_the_smoke_version_is_tiny_and_a_single_seed(tmp_path: Path) -> None:
    stage1, stage2, _ = commands(tmp_path, 2, smoke=True)
    assert {"max_steps=4", "student.preset=test-micro", "student.init_from=null"} <= set(_sets(stage1))
    assert "max_steps=4" in _sets(stage2) and stage2[stage2.index("--seeds") + 1] == "1"


def test_stage2_rows_select_each_signal_whole(tmp_path: Path) -> None:
    final = tmp_path / BASES[BASE].run / "final"
    final.mkdir(parents=True)
    (final / "manifest.json").write_text('{"metrics": {"steps": 1000}}')
    runs = {r.name: r for r in stage2_runs(tmp_path, BASE, ["word_kd", "word_kd_sampled"], [1], "127.0.0.1:1")}
    assert {"loss.kind=word_kd_sampled", "loss.m=12", "loss.alpha=0.5"} <= set(runs["word_kd_sampled-s1"].sets)
    assert {"loss.kind=word_kd", "loss.k=8", "loss.tail=true"} <= set(runs["word_kd-s1"].sets)
    assert runs["word_kd-s1"].out.parent.name == "stage2-nll-1k-sig"
