"""The typed settings every objective declares, and the settings several objectives share.

Each objective has its own frozen settings dataclass holding only what that objective uses; its class
attribute `kind` is the objective's name (what a recipe writes as `loss.kind`). Every field is declared
once with `setting(default, help, check)`: the default, the help text (for `--help` and the docs) and the
range check that recipe validation runs. Settings that several objectives share (the teacher's top-k, the
student's k', the support, on-policy targets, ...) are declared here once and reused by name.

This module imports nothing heavy, so that the recipe schema can name these types cheaply.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from typing import Any, ClassVar, Literal

Need = Literal["topk", "sampled", "score", "full_logits"]
OnPolicy = Literal["off", "sample", "greedy"]
Rollout = Literal["reference", "sample", "greedy", "exact_sample"]
Arch = Literal["ar", "cmlm"]
Check = Callable[[Any], str | None]


def unit(value: float) -> str | None:
    """A share or probability: in [0, 1]."""
    return None if 0.0 <= value <= 1.0 else f"must be in [0, 1], got {value}"


def positive(value: float) -> str | None:
    return None if value > 0 else f"must be > 0, got {value}"


def non_negative(value: float) -> str | None:
    return None if value >= 0 else f"must be >= 0, got {value}"


def as_text(value: Any) -> str:
    """A setting's value as a user writes it after `--set loss.<name>=` (`true`, `0.5`, `off`)."""
    return value if isinstance(value, str) else json.dumps(value)


def setting(default: Any, help: str, check: Check | None = None) -> Any:
    """A settings field: its default, what it means, and the check its value must pass."""
    return field(default=default, metadata={"help": help, "check": check})


@dataclass(frozen=True)
class ObjectiveSettings:
    """Base of every objective's settings: each one trains a label-smoothed token loss on its targets."""

    kind: ClassVar[str] = ""

    label_smoothing: float = setting(0.1, "ε of the label-smoothed NLL", unit)

    def problems(self) -> list[tuple[str, str]]:
        """(setting, what is wrong) for every value outside its declared range."""
        out = []
        for f in fields(self):
            check = f.metadata.get("check")
            message = check(getattr(self, f.name)) if check is not None else None
            if message:
                out.append((f.name, message))
        return out

    @classmethod
    def setting_names(cls) -> tuple[str, ...]:
        return tuple(f.name for f in fields(cls))

    @classmethod
    def help(cls) -> dict[str, str]:
        """Each setting's help text, by name."""
        return {f.name: str(f.metadata.get("help", "")) for f in fields(cls)}


@dataclass(frozen=True)
class DistillSettings(ObjectiveSettings):
    """Base of the objectives `(1-w)·NLL + w·D` that mix a distillation term D with the NLL; each declares
    the supports D can be computed on (`ObjectiveInfo.supports`) and this setting picks one."""

    support: str = setting("auto", "the vocabulary subset D is computed on (auto: the objective's first support)")

    @property
    def weight(self) -> float:
        """w, the share of the distillation term (each objective names its own: `alpha`, `lam`)."""
        raise NotImplementedError

    @property
    def rollout(self) -> Rollout:
        """The targets D is computed on: the references unless the objective has on-policy targets."""
        return "reference"


def rollout_of(on_policy: OnPolicy) -> Rollout:
    """The targets of an `on_policy` setting: the references (`off`) or the student's own translations."""
    return "reference" if on_policy == "off" else on_policy


class MixedByAlpha:
    """Mixin of a `DistillSettings` whose term is mixed with the NLL by its `alpha` setting."""

    alpha: float

    @property
    def weight(self) -> float:
        return self.alpha


class MixedByLambda:
    """Mixin of a `DistillSettings` whose term is mixed with the NLL by its `lam` setting."""

    lam: float

    @property
    def weight(self) -> float:
        return self.lam


class OnPolicyTargets:
    """Mixin of a `DistillSettings` whose `on_policy` setting picks the targets its term is computed on."""

    on_policy: OnPolicy

    @property
    def rollout(self) -> Rollout:
        return rollout_of(self.on_policy)


# Settings shared by several objectives: each a function, so that every class gets its own field.
def alpha() -> Any:
    return setting(0.5, "α of (1-α)·NLL + α·D", unit)


def lam() -> Any:
    return setting(0.5, "λ of (1-λ)·NLL + λ·D", unit)


def top_k() -> Any:
    return setting(8, "the teacher's top-k (TopK answers per position)", positive)


def k_prime() -> Any:
    return setting(8, "the student's candidates per position whose teacher log q `Score` returns", positive)


def tail() -> Any:
    return setting(True, "keep the teacher's remaining mass as a tail bucket (false: renormalise q on the top-k)")


def renormalise() -> Any:
    return setting(False, "KA on p and q both renormalised on the candidates (false: candidates plus rest mass)")


def sample_candidates() -> Any:
    return setting(False, "sample the k' student candidates from p (Gumbel top-k) instead of taking its top-k'")


def on_policy() -> Any:
    return setting("off", "sample/greedy: D on the student's own translations of the batch's sources")
