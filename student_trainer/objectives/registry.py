"""The registry of training objectives: each declared once, and everything else reads it.

An objective is one `ObjectiveInfo` in a module of its own (`student_trainer/objectives/<name>.py`, as its
`OBJECTIVE`): its settings class (whose `kind` is its name), a one-line summary, which students it trains,
its supports -- the vocabulary subsets its distillation term can be computed on, each with the term that
computes it and what that term needs from the teacher -- and the factory of its training step. Recipe
parsing and checks, the trainer's `--help`, the protocol's rows and the worker's step all read this table
instead of testing loss names.

Adding an objective is one new module and one line in `BUILTIN` below. The built-in modules are imported
on first use, so that importing the recipe schema stays cheap.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING, Any

from student_trainer.objectives.settings import Arch, DistillSettings, Need, ObjectiveSettings, as_text

if TYPE_CHECKING:
    from student_trainer.objectives.step import ObjectiveStep, StepContext
    from student_trainer.objectives.terms import DistillTerm

    StepFactory = Callable[[Any, StepContext], ObjectiveStep]

# The built-in objectives, by module name under student_trainer.objectives (also the order of listings).
BUILTIN = ("nll", "word_kd", "word_kd_sampled", "ka", "ka_sampled", "jsd", "tie_kd", "cmlm")


@dataclass(frozen=True)
class ObjectiveInfo:
    """The one declaration of an objective.

    `supports` maps each support to the term class computing the distillation term on it (the first is
    what `support: auto` means); its term's `needs` say which teacher answers it asks for (`topk`, `score`,
    `full_logits`). An objective without supports trains without a teacher (NLL, CMLM).
    """

    settings: type[ObjectiveSettings]
    summary: str
    step: StepFactory
    students: tuple[Arch, ...] = ("ar",)
    supports: Mapping[str, type[DistillTerm[Any]]] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.settings.kind

    @property
    def uses_teacher(self) -> bool:
        """Whether training asks the teacher anything (every objective with a distillation term)."""
        return bool(self.supports)

    def resolved_support(self, settings: ObjectiveSettings) -> str | None:
        """The support a run uses once `auto` is replaced by the first one (None without a term)."""
        if not self.supports or not isinstance(settings, DistillSettings):
            return None
        return next(iter(self.supports)) if settings.support == "auto" else settings.support

    def needs(self, settings: ObjectiveSettings) -> frozenset[Need]:
        """The teacher answers a run with these settings asks for (empty without a term)."""
        term = self.supports.get(self.resolved_support(settings) or "")
        return term.needs if term is not None else frozenset()

    def term(self, settings: ObjectiveSettings) -> DistillTerm[Any] | None:
        """The distillation term object for these settings (None for objectives without one)."""
        term = self.supports.get(self.resolved_support(settings) or "")
        return term(settings) if term is not None else None


class UnknownObjective(KeyError):
    """A `loss.kind` that no registered objective has."""

    def __str__(self) -> str:
        return str(self.args[0])


_OBJECTIVES: dict[str, ObjectiveInfo] = {}
_loaded = False


def register(info: ObjectiveInfo) -> ObjectiveInfo:
    """Add an objective to the registry (its name must be new)."""
    if not info.name:
        raise ValueError(f"{info.settings.__name__} must set its class attribute `kind` (the objective's name)")
    if info.name in _OBJECTIVES:
        raise ValueError(f"an objective named {info.name!r} is already registered")
    _OBJECTIVES[info.name] = info
    return info


def unregister(name: str) -> None:
    """Remove an objective (tests that register one of their own)."""
    _OBJECTIVES.pop(name, None)


def _load_builtins() -> None:
    global _loaded
    if not _loaded:
        _loaded = True
        for module in BUILTIN:
            register(importlib.import_module(f"student_trainer.objectives.{module}").OBJECTIVE)


def objectives() -> tuple[ObjectiveInfo, ...]:
    """Every registered objective, built-in ones first in `BUILTIN` order."""
    _load_builtins()
    return tuple(_OBJECTIVES.values())


def names() -> tuple[str, ...]:
    return tuple(info.name for info in objectives())


def lookup(kind: str) -> ObjectiveInfo:
    """The objective named `kind`; `UnknownObjective` lists the known names."""
    _load_builtins()
    if kind not in _OBJECTIVES:
        raise UnknownObjective(f"no objective is named {kind!r}; known: {', '.join(_OBJECTIVES)}")
    return _OBJECTIVES[kind]


def make_settings(kind: str, **values: Any) -> ObjectiveSettings:
    """The settings of objective `kind` with `values` set (a `TypeError` names a setting it does not have)."""
    return lookup(kind).settings(**values)


def default_settings() -> ObjectiveSettings:
    """What a recipe trains when it names no objective: label-smoothed NLL."""
    return make_settings("nll")


def overrides(settings: ObjectiveSettings, section: str = "loss") -> list[str]:
    """The `--set` overrides that select these settings whole: `loss.kind=ka`, `loss.lam=0.5`, ..."""
    out = [f"{section}.kind={settings.kind}"]
    for f in fields(settings):
        out.append(f"{section}.{f.name}={as_text(getattr(settings, f.name))}")
    return out
