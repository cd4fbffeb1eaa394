"""A student tokenizer that cannot encode the training data is refused before any work, with the command
that trains one; a tokenizer trained on the corpus passes."""

from __future__ import annotations

from pathlib import Path

import pytest

from s2s.tokenizer_training import train_tokenizer
from student_trainer.launch import preflight
from student_trainer.recipe_io import RecipeError, load_recipe


def test_a_tokenizer_of_another_script_is_refused_naming_the_fix(tiny_data: dict[str, Path],
                                                                 tmp_path: Path) -> None:
    greek = ["Καὶ εἶπεν ὁ θεός γενηθήτω φῶς καὶ ἐγένετο φῶς", "ἐν ἀρχῇ ἐποίησεν ὁ θεὸς τὸν οὐρανὸν καὶ τὴν γῆν"] * 40
    foreign = train_tokenizer(greek, tmp_path / "greek", vocab_size=60)
    sets = [f"data.train={tiny_data['train']}", f"data.valid={tiny_data['valid']}", f"output_dir={tmp_path / 'run'}"]
    recipe = load_recipe("nll", [*sets, f"student.tokenizer={foreign.folder}"])
    with pytest.raises(RecipeError, match=r"cannot encode data.train .*% of the source tokens.*kd tokenizer train"):
        preflight(recipe, resume=False)
    own = train_tokenizer([line.split("\t")[1] for line in tiny_data["train"].read_text().splitlines()[1:]] +
                          [line.split("\t")[2] for line in tiny_data["train"].read_text().splitlines()[1:]],
                          tmp_path / "own", vocab_size=300)
    checked, _ = preflight(load_recipe("nll", [*sets, f"student.tokenizer={own.folder}"]), resume=False)
    assert checked.student.tokenizer == str(own.folder)
