"""What `kd up` runs, declared once: each setting's default, help, flag and environment variable.

`UpConfig` is the one declaration (through `s2s.settings`): `kd up --help` lists its flags with their variables
(`KD_UP_<NAME>`, and `REDIS_URL`) and defaults, and `kd.commands.up` builds it from them. The corpus import's
own flags (`--data`, `--src`, `--tgt`, cleaning, splits) come from `ImportSpec` and the teacher's direction
from `Languages`; both are carried here as values.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from s2s.data_import import ImportSpec
from s2s.errors import KDError
from s2s.languages import Languages
from s2s.settings import setting


@dataclass(frozen=True)
class UpConfig:
    """The defaults serve the reference teacher at once and then distil a student on the bundled corpus."""

    ENV_PREFIX: ClassVar[str] = "KD_UP_"

    work_dir: Path = setting(Path("runs/up"), "where artefacts and logs go (one folder per corpus and teacher)",
                             metavar="DIR")
    teacher: tuple[Path, ...] = setting((), "teacher model folder: a checkpoint or a Hugging Face folder of any "
                                            "supported family (docs/own-teacher.md); repeat it to distil from an "
                                            "ensemble (the first is exported and shrunk); default: the reference "
                                            "teacher, or, with --data, a teacher trained on the corpus first",
                                        metavar="DIR")
    plan: str = setting("default", "the distillation plan: a bundled name or a YAML file (kd/stack/plans/)")
    recipe: str | None = setting(None, "training recipe instead of the plan's (bundled name or file)")
    max_steps: int | None = setting(None, "student training steps (default: the plan's)")
    teacher_steps: int = setting(2000, "training steps when a teacher must be trained first")
    overrides: tuple[str, ...] = setting((), "extra recipe override for the student", flag="--set",
                                         env=None, metavar="KEY=VALUE")
    gateway_port: int = setting(8000, "gateway port (0 = any free port)", flag="--port", metavar="PORT")
    eval_limit: int = setting(500, "test sentences to evaluate on (0 = the whole test set)")
    train_limit: int | None = setting(None, "use only the first N training pairs (quick demos and tests)")
    redis_url: str | None = setting(None, "use this Redis instead of starting one", env="REDIS_URL")
    bind: str = setting("127.0.0.1", "address the stack's Redis and Ray head listen on: loopback, unless Ray workers "
                                     "on other hosts must join (then the machine's address)", metavar="ADDRESS")
    exit_when_ready: bool = setting(False, "stop everything once the student is served (tests and scripts)")
    corpus: ImportSpec | None = None
    """The user's corpus to import (`--data`), or None for the bundled Bible corpus."""
    languages: Languages = Languages()
    """The teacher's direction (`--src-lang/--tgt-lang/--prefix`; default: the corpus's languages)."""

    def __post_init__(self) -> None:
        bad = [name for name, ok in (("max_steps", self.max_steps is None or self.max_steps >= 1),
                                     ("teacher_steps", self.teacher_steps >= 1),
                                     ("gateway_port", 0 <= self.gateway_port <= 65535),
                                     ("eval_limit", self.eval_limit >= 0),
                                     ("train_limit", self.train_limit is None or self.train_limit >= 1)) if not ok]
        if bad:
            raise KDError(f"kd up: {', '.join(bad)} out of range (see kd up --help)")

    @property
    def src(self) -> str:
        """The source language (the corpus's, or the bundled corpus's `es`)."""
        return self.corpus.src if self.corpus is not None else "es"

    @property
    def tgt(self) -> str:
        return self.corpus.tgt if self.corpus is not None else "en"

    @property
    def direction(self) -> Languages:
        """The teacher's direction: what `--src-lang/--tgt-lang/--prefix` say, the corpus's languages otherwise."""
        return Languages(self.languages.src or self.src, self.languages.tgt or self.tgt, self.languages.prefix)
