"""The protocol driver's stage-1 bases: each is one stage-1 run, and stage 2 starts from it on its own data,
in folders and archives that no other base's runs share."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from experiments.protocol.plan import BASES, DATA, ROWS, STAGE2, seq_kd_data, stage1_runs, stage2_runs


def finish_bases(out: Path, best_step: int = 1750, steps: int = 2000) -> None:
    """Stand-in final manifests of every base (what `kd train` writes at the end of a stage-1 run)."""
    for base in BASES.values():
        final = out / base.run / "final"
        final.mkdir(parents=True)
        (final / "manifest.json").write_text(json.dumps({"metrics": {"steps": steps, "best_step": best_step}}))


def test_every_base_is_one_stage1_run_from_the_shrunk_teacher_with_its_overrides(tmp_path: Path) -> None:
    runs = {r.name: r for r in stage1_runs(tmp_path)}
    assert set(runs) == {b.run for b in BASES.values()}
    for base in BASES.values():
        sets = runs[base.run].sets
        assert f"student.init_from={tmp_path / 'shrunk-3-1'}" in sets
        assert all(s in sets for s in base.sets)
        assert any(s.startswith("data.train=") and "seq_kd.tsv" in s for s in sets) == base.seq_kd
    assert "max_steps=2000" in runs["stage1-nll-long"].sets
    assert "max_steps=1000" in runs["stage1-nll-1k"].sets
    assert {"max_steps=1000", "student.seed=2"} <= set(runs["stage1-nll-1k-b2"].sets)
    assert {"max_steps=1000", "student.seed=3"} <= set(runs["stage1-nll-1k-b3"].sets)
    assert not any(s.startswith("max_steps=") for s in runs["stage1-nll-conv"].sets)  # the recipe's cap, patience 2
    conv_b2 = runs["stage1-nll-conv-b2"].sets
    assert "student.seed=2" in conv_b2 and not any(s.startswith("max_steps=") for s in conv_b2)
    for seed in (3, 4, 5):
        conv = runs[f"stage1-nll-conv-b{seed}"].sets
        assert f"student.seed={seed}" in conv and not any(s.startswith("max_steps=") for s in conv)


def test_stage2_starts_from_its_base_and_trains_on_its_data(tmp_path: Path) -> None:
    for name, base in BASES.items():
        [run] = stage2_runs(tmp_path, name, ["control"], [1], "127.0.0.1:1")
        assert f"student.init_from={tmp_path / base.run / 'final'}" in run.sets
        train = seq_kd_data(tmp_path) if base.seq_kd else DATA / "train.tsv"
        assert f"data.train={train}" in run.sets


def test_no_two_bases_or_stage2_recipes_share_a_folder_or_archive(tmp_path: Path) -> None:
    finish_bases(tmp_path)
    runs = [r for name in BASES for recipe in STAGE2
            for r in stage2_runs(tmp_path, name, list(ROWS), [1, 2], "127.0.0.1:1", recipe)]
    assert len({r.out for r in runs}) == len(runs)
    assert len({r.archive for r in runs}) == len(runs)


def test_the_continuing_recipe_starts_the_schedule_at_the_base_weights_step(tmp_path: Path) -> None:
    finish_bases(tmp_path, best_step=1750)
    [restart] = stage2_runs(tmp_path, "nll-long", ["ka"], [1], "127.0.0.1:1")
    [going_on] = stage2_runs(tmp_path, "nll-long", ["ka"], [1], "127.0.0.1:1", "continue")
    assert not any(s.startswith("optim.schedule_offset=") for s in restart.sets)
    assert "optim.schedule_offset=1750" in going_on.sets  # the best step's weights, not the last step
    assert going_on.recipe.name == "stage2_continue.yaml"
    assert set(restart.sets) < set(going_on.sets)  # the same run otherwise
    assert going_on.out.parent.name == "stage2-nll-long-continue"


def test_the_continuing_recipe_needs_a_finished_base_and_says_how_to_make_it(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="--stage 1 --only stage1-nll-long"):
        stage2_runs(tmp_path, "nll-long", ["ka"], [1], "127.0.0.1:1", "continue")


def test_the_two_stage2_recipes_differ_only_in_the_learning_rate() -> None:
    from student_trainer.recipe_io import load_recipe

    restart, going_on = (load_recipe(str(stage.recipe), []) for stage in STAGE2.values())
    assert going_on.optim.lr * (200 / 2001) ** 0.5 < restart.optim.lr  # continues from 1.6e-4, not 3e-4
    assert (going_on.data, going_on.max_steps, going_on.loss) == (restart.data, restart.max_steps, restart.loss)
