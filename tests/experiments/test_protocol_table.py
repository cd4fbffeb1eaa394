"""The protocol table's paired bootstrap test: it pairs seed s with seed s and says when it cannot test."""

from __future__ import annotations

from pathlib import Path

from experiments.protocol.table import paired_p_value, stage2_table
from experiments.run_records import RunRecord

REFS = [f"and the word {i} was with the light of day {i}" for i in range(40)]


def run(name: str, folder: Path, hyps: list[str] | None) -> RunRecord:
    """A record whose greedy test outputs are `hyps` (None: not kept)."""
    folder.mkdir(parents=True)
    if hyps is not None:
        (folder / "hyp.greedy.txt").write_text("\n".join(hyps) + "\n")
    return RunRecord(name, [], {"greedy": {"scores": {"bleu": 0.0}}}, folder)


def test_a_system_that_matches_the_references_beats_a_poor_baseline(tmp_path: Path) -> None:
    poor = [f"the word {i} day" for i in range(40)]
    good = run("good-s1", tmp_path / "good", REFS)
    bad = run("bad-s1", tmp_path / "bad", poor)
    p = paired_p_value([good], [bad], "greedy", REFS)
    assert p is not None and p < 0.01


def test_systems_wrong_on_different_but_equal_halves_are_not_significantly_different(tmp_path: Path) -> None:
    a = run("a-s1", tmp_path / "a", [r if i % 2 else "the light" for i, r in enumerate(REFS)])
    b = run("b-s1", tmp_path / "b", [r if i % 2 == 0 else "the light" for i, r in enumerate(REFS)])
    p = paired_p_value([a], [b], "greedy", REFS)
    assert p is not None and p > 0.3


def test_nothing_to_pair_or_no_kept_outputs_gives_no_p_value(tmp_path: Path) -> None:
    kept, lost = run("a-s1", tmp_path / "a", REFS), run("b-s1", tmp_path / "b", None)
    assert paired_p_value([kept], [kept], "greedy", REFS) is None
    assert paired_p_value([kept], [], "greedy", REFS) is None
    assert paired_p_value([kept], [lost], "greedy", REFS) is None


def test_the_other_recipes_column_is_left_out_where_that_recipe_never_ran_on_the_base(tmp_path: Path) -> None:
    # Folders that neither runs/ nor the archives hold, so that the test does not depend on what has run.
    head = stage2_table(tmp_path, "nll-conv", "stage2-unrun-continue", ("restart", "stage2-unrun"))
    assert "p vs control" in head and "p vs restart" not in head
    assert "| on-policy KA (sampled) | 0 | not run |" in head
