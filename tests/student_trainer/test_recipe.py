"""Recipes: bundled files load, overrides are typed, unknown keys and bad values are refused by name."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from student_trainer.recipe import Recipe
from student_trainer.recipe_io import RecipeError, bundled_recipes, load_recipe, recipe_from_dict, recipe_to_dict

REPO = Path(__file__).resolve().parents[2]
EXPECTED = {"nll", "word_kd", "ka", "jsd", "seq_kd", "seq_inter", "seq_kd_word_kd", "tie_kd", "ka_on_policy"}


def test_every_method_has_a_bundled_recipe_that_loads() -> None:
    assert set(bundled_recipes()) >= EXPECTED
    for name in bundled_recipes():
        recipe = load_recipe(name)
        assert recipe.name == name
        assert recipe.uses_teacher == (recipe.loss.kind not in ("nll", "cmlm"))  # CMLM's teacher is in its data


def test_defaults_point_at_the_bundled_corpus_and_reference_tokenizer() -> None:
    recipe = load_recipe("nll")
    assert Path(recipe.data.train).is_file() and Path(recipe.data.train).name == "train.tsv"
    assert Path(recipe.data.valid).is_file() and Path(recipe.data.valid).name == "valid.tsv"
    assert (Path(recipe.student.tokenizer) / "vocab.json").is_file()
    assert recipe.output_path == Path("runs/nll")


def test_overrides_are_parsed_to_the_field_types() -> None:
    recipe = load_recipe("ka", ["loss.lam=0.7", "optim.lr=1e-4", "max_steps=2e3", "optim.betas=[0.9, 0.99]",
                                "teacher.endpoints=10.0.0.1:5000,10.0.0.2:5000", "ray.use_gpu=false",
                                "student.init_from=null", "loss.sample_candidates=true"])
    assert recipe.loss.lam == 0.7 and recipe.optim.lr == 1e-4 and recipe.max_steps == 2000
    assert recipe.optim.betas == (0.9, 0.99)
    assert recipe.teacher.endpoints == "10.0.0.1:5000,10.0.0.2:5000"
    assert recipe.ray.use_gpu is False and recipe.student.init_from is None and recipe.loss.sample_candidates


def test_round_trip_through_plain_data() -> None:
    recipe = load_recipe("jsd", ["loss.beta=0.3"])
    assert recipe_from_dict(recipe_to_dict(recipe)) == recipe


@pytest.mark.parametrize(("overrides", "keys"), [
    (["loss.bogus=1"], ["loss.bogus"]),
    (["bogus.x=1"], ["bogus"]),
    (["optim.lr=abc"], ["optim.lr"]),
    (["loss.alpha=1.5", "optim.lr=-1"], ["loss.alpha", "optim.lr"]),
    (["loss.kind=kl"], ["loss.kind"]),
    (["epochs=many", "data.max_tokens=0"], ["epochs", "data.max_tokens"]),
    (["loss.support=full"], ["loss.support"]),
    (["teacher.endpoints=null"], ["teacher.endpoints"]),
    (["optim.betas=[0.9]"], ["optim.betas"]),
    (["ray.use_gpu=maybe"], ["ray.use_gpu"]),
    (["optim.schedule_offset=-5", "optim.rewarmup_steps=-1"], ["optim.schedule_offset", "optim.rewarmup_steps"]),
])
def test_bad_keys_and_values_are_refused_by_name(overrides: list[str], keys: list[str]) -> None:
    with pytest.raises(RecipeError) as info:
        load_recipe("ka", overrides)
    for key in keys:
        assert f"  {key}: " in str(info.value)


def test_bad_keys_in_a_file_are_refused_by_name(tmp_path: Path) -> None:
    path = tmp_path / "mine.yaml"
    path.write_text(yaml.safe_dump({"loss": {"kind": "word_kd", "alpah": 0.3}, "optim": {"lr": "fast"}}))
    with pytest.raises(RecipeError) as info:
        load_recipe(path)
    message = str(info.value)
    assert "loss.alpah: unknown key" in message and "optim.lr: must be a number" in message
    assert "teacher.endpoints" in message  # word_kd without a teacher is refused too


def test_malformed_override_and_unknown_recipe() -> None:
    with pytest.raises(RecipeError, match="key.sub=value"):
        load_recipe("nll", ["max_steps"])
    with pytest.raises(RecipeError, match="bundled recipes: .*word_kd"):
        load_recipe("no-such-recipe")


def test_cli_refuses_bad_recipe_before_any_work(tmp_path: Path) -> None:
    out = tmp_path / "never"
    proc = subprocess.run([sys.executable, "-m", "student_trainer", "--recipe", "word_kd", "--set", "loss.alpah=0.2",
                           "--set", "loss.k=0", "--set", f"output_dir={out}"],
                          cwd=REPO, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert "loss.alpah: unknown key" in proc.stderr and "loss.k: must be > 0" in proc.stderr
    assert "Ray" not in proc.stdout + proc.stderr and not out.exists()


def test_print_recipe_shows_the_complete_validated_recipe() -> None:
    proc = subprocess.run([sys.executable, "-m", "kd", "train", "--recipe", "ka", "--set", "max_steps=50",
                           "--print-recipe"], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    printed = recipe_from_dict(yaml.safe_load(proc.stdout))
    assert isinstance(printed, Recipe) and printed.max_steps == 50 and printed.loss.kind == "ka"
