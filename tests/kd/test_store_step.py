"""`kd up`'s teacher-store step: which store a plan's recipe needs, and the precompute command that makes it for
exactly the data the training job will read (the pipeline itself runs in tests/kd/test_up.py)."""

from __future__ import annotations

import sys
from pathlib import Path

from kd.stack.plan import load_plan
from kd.stack.store_step import precompute_argv, store_folder
from s2s.teacher.contract import Signal
from student_trainer.recipe_io import load_recipe
from student_trainer.store_teacher import required_signal


def _flag(argv: list[str], name: str) -> str:
    return argv[argv.index(name) + 1]


def test_the_store_plan_trains_word_kd_from_a_top_8_store(tmp_path: Path) -> None:
    plan = load_plan("word_kd_store")
    assert plan.teacher_store and not plan.sequence_data and plan.recipe == "word_kd"
    recipe = load_recipe(plan.recipe, [f"data.train={tmp_path / 'train.tsv'}", "data.max_len=100"])
    assert required_signal(recipe.loss) == Signal("topk", 8)
    out = store_folder(tmp_path, Signal("topk", 8))
    argv = precompute_argv("127.0.0.1:5", recipe, out)
    assert argv[:5] == [sys.executable, "-m", "kd", "teacher", "precompute"]
    assert (_flag(argv, "--endpoints"), _flag(argv, "--data"), _flag(argv, "--max-len"), _flag(argv, "--k")) == (
        "127.0.0.1:5", str(tmp_path / "train.tsv"), "100", "8")
    assert _flag(argv, "--src") == "es" and _flag(argv, "--tgt") == "en" and _flag(argv, "--out") == str(out)
    assert out == tmp_path / "teacher-store" / "topk8"


def test_the_sampled_objective_gets_a_sampled_store_and_others_none() -> None:
    teacher = "teacher.endpoints=h:1"
    sampled = load_recipe("nll", [teacher, "loss.kind=word_kd_sampled", "loss.m=16", "loss.seed=3"])
    assert required_signal(sampled.loss) == Signal("sampled", 16, 3)
    argv = precompute_argv("h:1", sampled, Path("/s"))
    assert (_flag(argv, "--sample"), _flag(argv, "--seed")) == ("16", "3") and "--k" not in argv
    assert store_folder(Path("/w"), Signal("sampled", 16, 3)) == Path("/w/teacher-store/sampled16-seed3")
    for kind in ("nll", "ka"):  # nothing a store holds (KA scores the student's own tokens)
        assert required_signal(load_recipe("nll", [teacher, f"loss.kind={kind}"]).loss) is None
    assert required_signal(load_recipe("word_kd", ["loss.on_policy=greedy"]).loss) is None
