"""The objectives' registry: each objective declared once, and everything else reading the declaration.

A toy objective registered here (one settings class, one term, one `ObjectiveInfo`) is then read by recipe
parsing and checks, the trainer's `--help`, the `--set` overrides of the protocol and the training step,
with nothing else changed: adding an objective is one module and one registration.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import pytest
import torch

import student_trainer.objectives as package
from s2s.local_teacher import InProcessTeacher
from s2s.losses import word_kd_loss
from s2s.presets import build_model
from s2s.tokenizer import Tokenizer
from student_trainer.batches import Batch, BatchTensors
from student_trainer.objectives.distill import distillation
from student_trainer.objectives.driver import Objective
from student_trainer.objectives.registry import (
    BUILTIN,
    ObjectiveInfo,
    lookup,
    make_settings,
    names,
    objectives,
    overrides,
    register,
    unregister,
)
from student_trainer.objectives.settings import DistillSettings, setting, top_k, unit
from student_trainer.objectives.terms import Answers, DistillTerm
from student_trainer.recipe_io import RecipeError, load_recipe, recipe_from_dict, recipe_to_dict
from student_trainer.teacher_link import WaitClock

REPO = Path(__file__).resolve().parents[2]
INFRASTRUCTURE = {"__init__", "registry", "settings", "step", "terms", "distill", "driver"}


def test_every_objective_module_is_registered_once_under_its_own_name() -> None:
    modules = {p.stem for p in Path(package.__file__).parent.glob("*.py")} - INFRASTRUCTURE
    assert set(BUILTIN) == modules
    assert names() == BUILTIN == ("nll", "word_kd", "word_kd_sampled", "ka", "ka_sampled", "jsd", "tie_kd", "cmlm")
    with pytest.raises(ValueError, match="already registered"):
        register(lookup("ka"))


def test_each_objective_has_its_own_frozen_settings_and_declares_its_teacher_needs() -> None:
    settings = {info.name: set(info.settings.setting_names()) for info in objectives()}
    assert settings["nll"] == settings["cmlm"] == {"label_smoothing"}
    assert settings["ka_sampled"] == {"label_smoothing", "support", "lam"}
    assert "alpha" not in settings["ka"] and "lam" not in settings["word_kd"] and "k_prime" not in settings["tie_kd"]
    for info in objectives():
        value = info.settings()
        assert value.kind == info.name and dataclasses.is_dataclass(value)
        with pytest.raises(dataclasses.FrozenInstanceError):
            value.label_smoothing = 0.0  # type: ignore[misc]
        assert info.uses_teacher == bool(info.needs(value)) == (info.name not in ("nll", "cmlm"))
        assert all(term.needs and term.needs <= {"topk", "sampled", "score", "full_logits"}
                   for term in info.supports.values())
    assert lookup("cmlm").students == ("cmlm",) and all(o.students == ("ar",) for o in objectives() if o.name != "cmlm")
    assert list(lookup("ka").supports) == ["student", "teacher", "full"]
    assert lookup("ka").needs(make_settings("ka", support="teacher")) == {"topk"}


def test_the_loss_section_maps_the_keys_users_write_into_the_objectives_settings(tmp_path: Path) -> None:
    path = tmp_path / "mine.yaml"
    path.write_text("teacher: {endpoints: 127.0.0.1:1}\nloss: {kind: ka, lam: 0.5, k_prime: 8}\n")
    recipe = load_recipe(path)
    assert recipe.loss == make_settings("ka", lam=0.5, k_prime=8)
    assert recipe_from_dict(recipe_to_dict(recipe)) == recipe
    assert list(recipe_to_dict(recipe)["loss"])[:3] == ["kind", "label_smoothing", "support"]


@pytest.mark.parametrize(("kind", "key", "owners"), [
    ("ka", "alpha", "word_kd, word_kd_sampled, jsd, tie_kd"),
    ("word_kd", "lam", "ka, ka_sampled"),
    ("ka_sampled", "on_policy", "word_kd, ka, jsd, tie_kd"),
    ("nll", "k", "word_kd, ka, jsd, tie_kd"),
    ("tie_kd", "k_prime", "word_kd, ka, jsd"),
])
def test_a_setting_of_another_objective_is_refused_naming_the_key_and_both_objectives(kind: str, key: str,
                                                                                    owners: str) -> None:
    with pytest.raises(RecipeError) as info:
        load_recipe("ka", [f"loss.kind={kind}", f"loss.{key}=1"])
    message = str(info.value)
    assert f"  loss.{key}: not a setting of the {kind} objective but of {owners}" in message
    assert f"the {kind} objective's settings are: kind, label_smoothing" in message


def test_k_and_k_prime_of_an_objective_without_them_size_the_diagnostics() -> None:
    recipe = load_recipe("nll", ["diagnostics=true", "teacher.endpoints=127.0.0.1:1", "loss.k=4", "loss.k_prime=6"])
    assert recipe.diagnostic_sizes == (4, 6) and recipe.loss == make_settings("nll")
    assert load_recipe("ka", ["diagnostics=true", "loss.k_prime=5"]).diagnostic_sizes == (8, 5)
    with pytest.raises(RecipeError, match="loss.k: sizes the diagnostics, but diagnostics.k says 8"):
        load_recipe("nll", ["diagnostics={enabled: true, k: 8}", "teacher.endpoints=127.0.0.1:1", "loss.k=4"])


def test_objective_checks_come_from_the_declaration() -> None:
    with pytest.raises(RecipeError) as info:
        load_recipe("ka", ["loss.support=both", "loss.lam=2", "student.arch=cmlm"])
    message = str(info.value)
    assert "loss.support: 'both' is not available for loss.kind='ka'; choose one of auto, student, teacher, full" \
        in message
    assert "loss.lam: must be in [0, 1], got 2.0" in message
    assert "loss.kind: ka trains ar students, not student.arch: cmlm; objectives for it: cmlm" in message


# A new objective: everything below is what its module would hold, plus the one `register` call.
@dataclass(frozen=True)
class ToySettings(DistillSettings):
    """Forward KL on the teacher's top-k without the tail, mixed by `gamma`."""

    kind: ClassVar[str] = "toy_kd"

    gamma: float = setting(0.25, "γ of (1-γ)·NLL + γ·D", unit)
    k: int = top_k()

    @property
    def weight(self) -> float:
        return self.gamma


class ToyTerm(DistillTerm[ToySettings]):
    needs = frozenset({"topk"})

    def __call__(self, logits: torch.Tensor, t: BatchTensors, a: Answers) -> torch.Tensor:
        top = a.need_topk()
        return word_kd_loss(logits, top.ids, top.logq, top.rest_logmass, t.target_mask, tail=False)


TOY = ObjectiveInfo(ToySettings, "toy: forward KL on the teacher's renormalised top-k", distillation,
                    supports={"teacher": ToyTerm})


@pytest.fixture()
def toy() -> Iterator[ObjectiveInfo]:
    register(TOY)
    try:
        yield TOY
    finally:
        unregister(TOY.name)


def test_a_new_objective_is_read_by_recipes_checks_help_and_overrides(toy: ObjectiveInfo,
                                                                      capsys: pytest.CaptureFixture[str]) -> None:
    recipe = load_recipe("ka", ["loss={kind: toy_kd, gamma: 0.3, k: 4}"])
    assert recipe.loss == ToySettings(gamma=0.3, k=4) and recipe.uses_teacher
    assert load_recipe("nll", overrides(recipe.loss) + ["teacher.endpoints=127.0.0.1:1"]).loss == recipe.loss
    with pytest.raises(RecipeError, match="loss.gamma: must be in"):
        load_recipe("ka", ["loss.kind=toy_kd", "loss.gamma=1.5"])
    with pytest.raises(RecipeError, match="loss.lam: not a setting of the toy_kd objective"):
        load_recipe("ka", ["loss.kind=toy_kd"])  # ka.yaml's lam
    from kd.cli import main

    with pytest.raises(SystemExit):
        main(["train", "--help"])
    assert "toy_kd: toy: forward KL" in capsys.readouterr().out


def test_a_new_objective_trains_through_the_driver(toy: ObjectiveInfo, micro_checkpoint: Path,
                                                   tokenizer: Tokenizer) -> None:
    batch = Batch([tokenizer.encode_source("Y dijo Dios")], [tokenizer.encode_target("And God said")])
    model = build_model("test-micro", tokenizer, seed=4)
    with InProcessTeacher(micro_checkpoint, device="cpu") as teacher:
        objective = Objective(ToySettings(k=4), tokenizer.pad_id, teacher, WaitClock())
        assert objective.prefetchable
        parts = objective.step(model, batch, objective.request(batch), torch.device("cpu"))
    assert set(parts) == {"loss", "nll", "distill"} and parts["distill"] >= 0
    assert abs(parts["loss"] - (0.75 * parts["nll"] + 0.25 * parts["distill"])) < 1e-5
    assert all(p.grad is not None for p in model.parameters() if p.requires_grad)


def test_the_trainer_help_lists_every_objective_with_its_settings(capsys: pytest.CaptureFixture[str]) -> None:
    from student_trainer.__main__ import main

    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    for info in objectives():
        assert f"  {info.name}: {info.summary}" in out
        block = re.split(r"\n  (?! )", out.split(f"  {info.name}: ", 1)[1])[0]
        listed = re.search(r"settings: ([\w,\s]+)", block)
        assert listed and set(re.split(r",\s+", listed.group(1).strip())) == set(info.settings.setting_names())


def test_the_docs_tables_are_the_registry() -> None:
    from student_trainer.cli import objectives_markdown

    doc = (REPO / "docs" / "trainer.md").read_text(encoding="utf-8")
    tables = doc.split("<!-- objectives:start -->\n")[1].split("\n<!-- objectives:end -->")[0]
    assert tables == objectives_markdown(), f"docs/trainer.md's objectives tables should read:\n{objectives_markdown()}"
