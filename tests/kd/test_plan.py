"""`kd up`'s plan files: the bundled default loads, a user's file names only what differs, mistakes are named."""

from __future__ import annotations

from pathlib import Path

import pytest

from kd.stack.plan import UpPlan, load_plan
from s2s.errors import KDError
from student_trainer.recipe_io import find_recipe


def test_the_default_plan_is_the_measured_pipeline() -> None:
    plan = load_plan("default")
    assert plan == UpPlan(recipe="up_student", shrink=True, decoder_layer=0, sequence_data=True, beam=5,
                          max_steps=600)
    assert find_recipe(plan.recipe).is_file()


def test_a_plan_file_overrides_some_keys_and_unknown_or_bad_ones_are_refused(tmp_path: Path) -> None:
    mine = tmp_path / "mine.yaml"
    mine.write_text("sequence_data: false\nmax_steps: 50\n")
    assert load_plan(mine) == UpPlan(sequence_data=False, max_steps=50)
    mine.write_text("max_step: 50\nshrink: maybe\n")
    with pytest.raises(KDError, match=r"max_step: unknown key.*\n.*shrink: must be true or false"):
        load_plan(mine)
    with pytest.raises(KDError, match="neither a file nor a bundled plan \\(default, own_vocab, word_kd_store\\)"):
        load_plan("nope")
    mine.write_text("max_steps: 0\n")
    with pytest.raises(KDError, match="max_steps and beam must be >= 1"):
        load_plan(mine)


def test_students_are_named_after_their_recipe_and_plan() -> None:
    from kd.stack.config import UpConfig
    from kd.stack.up import student_id

    assert student_id(UpConfig()) == "student"
    assert student_id(UpConfig(recipe="word_kd")) == "student-word_kd"
    assert student_id(UpConfig(recipe="word_kd", plan="plans/own.yaml")) == "student-word_kd-own"


def test_a_student_with_its_own_vocabulary_needs_sequence_data(tmp_path: Path) -> None:
    plan = tmp_path / "own.yaml"
    plan.write_text("student_vocab: own\nsequence_data: false\n", encoding="utf-8")
    with pytest.raises(KDError, match="sequence_data: true"):
        load_plan(plan)
    plan.write_text("student_vocab: mine\n", encoding="utf-8")
    with pytest.raises(KDError, match="student_vocab"):
        load_plan(plan)


def test_a_word_level_recipe_for_a_student_with_its_own_vocabulary_is_refused(tiny_teachers: dict[str, Path],
                                                                               reference_teacher_dir: Path) -> None:
    from kd.stack.config import UpConfig
    from kd.stack.up import _distil_own_vocabulary, student_vocabulary

    plan, config = load_plan("default"), UpConfig(recipe="ka")
    assert student_vocabulary(plan, tiny_teachers["t5"], config) == "own"
    assert student_vocabulary(plan, tiny_teachers["marian_separate"], config) == "own"
    assert student_vocabulary(plan, reference_teacher_dir, config) == "teacher"
    with pytest.raises(KDError, match=r"word level \(loss.kind=ka\).*sequence-level recipe"):
        _distil_own_vocabulary(None, plan, config, "ka", "127.0.0.1:1", "http://127.0.0.1:1",  # type: ignore[arg-type]
                               "student", 10)
