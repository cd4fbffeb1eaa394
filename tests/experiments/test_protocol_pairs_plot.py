"""The dot plot behind the pooled run-level tests: the right pairs, the right signs, a real picture."""

from __future__ import annotations

from pathlib import Path

from experiments.protocol.pairs_plot import comparisons, pair_differences, plot_pairs
from experiments.run_records import RunRecord


def scored(name: str, greedy: float, beam: float | None = None) -> RunRecord:
    results = {"greedy": {"scores": {"bleu": greedy}}}
    if beam is not None:
        results["beam5"] = {"scores": {"bleu": beam}}
    return RunRecord(name, [], results, None)


def test_differences_pair_by_base_and_seed_and_skip_a_decoding_either_side_lacks() -> None:
    system = {("y", "1"): scored("a", 35.0, 37.0), ("x", "1"): scored("b", 34.0), ("x", "2"): scored("c", 30.0)}
    baseline = {("x", "1"): scored("d", 33.5, 36.0), ("y", "1"): scored("e", 34.0, 36.5)}
    found = pair_differences(system, baseline)
    assert found["greedy"] == [(("x", "1"), 0.5), (("y", "1"), 1.0)]  # ("x", "2") has no partner
    assert found["beam5"] == [(("y", "1"), 0.5)]  # b was not decoded with beam 5


def test_each_row_meets_its_own_base_and_the_baseline_rows_but_not_itself_nor_a_mirror() -> None:
    runs = {"word_kd": {("x", "1"): scored("w", 34.0, 36.0)}, "ka": {("x", "1"): scored("k", 34.5, 36.4)},
            "control": {}}
    starts = {"x": scored("base", 34.2, 36.5)}
    found = comparisons(runs, starts, {"control": "control", "Word-KD": "word_kd"})
    assert list(found) == ["Word-KD − base", "KA − base", "KA − Word-KD"]  # no control runs: nothing against it
    assert [round(d, 2) for _, d in found["KA − Word-KD"]["greedy"]] == [0.5]
    assert [round(d, 2) for _, d in found["Word-KD − base"]["beam5"]] == [-0.5]
    runs["control"] = {("x", "1"): scored("c", 33.0)}
    found = comparisons(runs, starts, {"control": "control", "Word-KD": "word_kd"})
    assert list(found) == ["Word-KD − base", "Word-KD − control", "KA − base", "KA − control", "KA − Word-KD",
                           "control − base"]  # control − Word-KD would mirror Word-KD − control


def test_the_plot_is_a_png_and_nothing_is_drawn_without_pairs(tmp_path: Path) -> None:
    columns = {"KA − Word-KD": {"greedy": [(("x", "1"), 0.3), (("y", "1"), -0.1)], "beam5": []}}
    path = tmp_path / "img" / "pairs.png"
    plot_pairs(columns, ["x", "y"], path)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.stat().st_size > 5_000
    plot_pairs({}, ["x"], tmp_path / "none.png")
    assert not (tmp_path / "none.png").exists()
