"""`experiments.ensemble.table`: mean ± sd over seeds, speed against the teacher, and the two paired tests."""

from __future__ import annotations

from typing import Any

from experiments.ensemble.table import members_table, pooled_p, students_table

REFS = [f"and he said unto them {w} came to the city" for w in
        ("moses", "aaron", "david", "jesus", "peter", "paul", "john", "mary", "joseph", "saul")] * 3


def _model(bleu: float, chrf: float, speed: float) -> dict[str, Any]:
    return {"scores": {"bleu": bleu, "chrf": chrf}, "sentences_per_s": speed}


def _record() -> dict[str, Any]:
    models = {"teacher": _model(30.0, 50.0, 100.0)}
    for seed, (single, ens) in enumerate(((28.0, 29.0), (27.0, 30.0), (29.0, 31.0)), start=1):
        models[f"single-s{seed}"] = _model(single, 48.0, 200.0)
        models[f"ensemble-s{seed}"] = _model(ens, 49.0, 220.0)
    return {"models": models, "load_average_during": [0.5, 1.5], "decoding": "greedy", "threads": 2, "rounds": 2,
            "when": "2026-12-06 21:00:00"}


def _hyps() -> dict[str, list[str]]:
    worse = [r.replace("came to", "went into") for r in REFS]
    return {**{f"single-s{s}": worse for s in (1, 2, 3)}, **{f"ensemble-s{s}": list(REFS) for s in (1, 2, 3)}}


def test_students_rows_hold_the_seed_mean_and_sd_and_speed_against_the_teacher() -> None:
    table = students_table(_record(), _hyps(), REFS)
    assert "| single teacher, seeds 1,2,3 | 28.00 ± 1.00 | 48.00 ± 0.00 | 93 % | 200.0 | 2.00× |" in table
    assert "| ensemble teacher, seeds 1,2,3 | 30.00 ± 1.00 | 49.00 ± 0.00 | 100 % | 220.0 | 2.20× |" in table
    assert "+1.00, +3.00, +2.00 BLEU (sign-flip p = 0.25)" in table  # 3 of 3 positive: 2 of 8 sign patterns
    assert "load 0.50–1.50" in table


def test_the_pooled_paired_test_tells_a_consistent_difference_from_one_sentence() -> None:
    hyps = _hyps()
    assert pooled_p(hyps, REFS, ["s1", "s2", "s3"]) < 0.01  # every sentence better in every seed
    def worse_at(rows: set[int]) -> list[str]:
        return [r.replace("came to", "went into") if i % 10 in rows else r for i, r in enumerate(REFS)]

    # Each side worse on its own verses, five against four: a difference no larger than chance makes.
    mixed = {**{f"single-s{s}": worse_at({0, 1, 2, 3, 4}) for s in (1, 2, 3)},
             **{f"ensemble-s{s}": worse_at({5, 6, 7, 8}) for s in (1, 2, 3)}}
    assert pooled_p(mixed, REFS, ["s1", "s2", "s3"]) > 0.2


def test_members_table_lists_every_system_and_the_paired_tests() -> None:
    record = {"rows": [{"system": "a", "beam": 1, "bleu": 34.0, "chrf": 54.0, "sentences_per_s": 40.0},
                       {"system": "ensemble", "beam": 1, "bleu": 34.9, "chrf": 55.0, "sentences_per_s": 20.0},
                       {"paired": "ensemble vs a", "beam": 1, "p": 0.002}]}
    table = members_table(record)
    assert "| ensemble | 1 | 34.90 | 55.00 | 20.0 |" in table and "ensemble vs a (beam 1): p = 0.002" in table
