"""Pooling stage-2 rows over base instances: runs pair by (base, seed), never by position."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from experiments.protocol.pooled import REPO, Comparison, _per_base, comparison, holm_table, paired, seed_of
from experiments.run_records import RunRecord

REFS = [f"and the word {i} was with the light of day {i}" for i in range(40)]


def run(name: str, folder: Path, hyps: list[str], bleu: float = 0.0) -> RunRecord:
    folder.mkdir(parents=True)
    (folder / "hyp.greedy.txt").write_text("\n".join(hyps) + "\n")
    return RunRecord(name, [], {"greedy": {"scores": {"bleu": bleu}}}, folder)


def test_the_seed_is_read_from_the_run_name_whether_live_or_archived() -> None:
    assert seed_of(RunRecord("ka_on_policy-s3", [], {}, None)) == "3"
    assert seed_of(RunRecord("stage2-nll-1k-b2-ka-s12", [], {}, None)) == "12"


def test_runs_pair_by_base_and_seed_and_unmatched_runs_are_left_out(tmp_path: Path) -> None:
    a1, a2, b1 = (run(n, tmp_path / n, REFS) for n in ("a1", "a2", "b1"))
    c1, c2, d2 = (run(n, tmp_path / n, REFS) for n in ("c1", "c2", "d2"))
    system = {("x", "1"): a1, ("x", "2"): a2, ("y", "1"): b1}
    baseline = {("y", "2"): d2, ("x", "2"): c2, ("x", "1"): c1}  # no ("y", "1"): b1 has nothing to pair with
    mine, theirs = paired(system, baseline)
    assert mine == [a1, a2] and theirs == [c1, c2]


def test_the_pooled_comparison_sees_a_better_system_on_every_base(tmp_path: Path) -> None:
    poor = [f"the word {i} day" for i in range(40)]
    good = {(b, "1"): run(f"good-{b}", tmp_path / f"good-{b}", REFS, 60.0) for b in ("x", "y")}
    bad = {(b, "1"): run(f"bad-{b}", tmp_path / f"bad-{b}", poor, 20.0) for b in ("x", "y")}
    found = comparison(good, bad, REFS)
    assert found is not None
    delta, boot, flip = found.cell().split(" · ")
    greedy, beam = boot.split(" / ")
    assert delta == "+40.00" and float(greedy) < 0.01 and beam == "–"  # no beam outputs kept: nothing to test
    assert flip == "0.500 / –"  # two runs, both better: the smallest p two pairs can give
    assert comparison(good, {}, REFS) is None


def test_the_holm_table_adjusts_each_baseline_test_and_decoding_as_its_own_family() -> None:
    compared = {"own base": {"control": Comparison(0.1, (0.01, 0.04), (0.25, None))},
                "control": {"control": None, "word_kd": Comparison(0.3, (0.01, 0.2), (0.02, 0.5)),
                            "ka": Comparison(0.4, (0.02, 0.3), (0.01, 0.5))},
                "Word-KD": {"word_kd": None, "ka": Comparison(0.1, (0.03, 0.001), (0.5, 0.25))}}
    lines = holm_table(compared).splitlines()
    assert lines[0].startswith("| objective | vs own base:") and len(lines) == 2 + 3  # the three rows tested
    control = next(line for line in lines if line.startswith("| control"))
    assert control.split(" | ")[1:] == ["+0.10 · 0.010 / 0.040 · 0.250 / –", "–", "– |"]  # families of one
    word_kd = next(line for line in lines if line.startswith("| Word-KD")).split(" | ")
    ka = next(line for line in lines if line.startswith("| KA ")).split(" | ")
    # vs control, two rows per family: 0.01 -> 2 × 0.01, 0.02 -> max(0.02, 1 × 0.02); 0.2 -> 0.4, 0.3 -> 0.4
    assert word_kd[2] == "+0.30 · 0.020 / 0.400 · 0.020 / 1.000"
    assert ka[2] == "+0.40 · 0.020 / 0.400 · 0.020 / 1.000"
    assert ka[3] == "+0.10 · 0.030 / 0.001 · 0.500 / 0.250 |"  # vs Word-KD only KA was tested


def test_the_mean_per_base_keeps_the_order_of_the_bases(tmp_path: Path) -> None:
    runs = {("x", "1"): run("x1", tmp_path / "x1", REFS, 30.0), ("x", "2"): run("x2", tmp_path / "x2", REFS, 31.0),
            ("y", "1"): run("y1", tmp_path / "y1", REFS, 33.0)}
    assert _per_base(runs, ["y", "x", "z"]) == "33.00 / 30.50 / –"


def test_the_command_line_wants_known_bases_each_once() -> None:
    for bases, says in ((",", "at least one base"), ("nll-1k,nope", "unknown base(s) nope"),
                        ("nll-1k,nll-1k", "named twice")):
        done = subprocess.run([sys.executable, "-m", "experiments.protocol.pooled", "--bases", bases, "--no-docs"],
                              cwd=REPO, capture_output=True, text=True)
        assert done.returncode == 2 and says in done.stderr
