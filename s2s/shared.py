"""Where the shared folder is: the bundled corpus and the reference teacher, beside the repository.

The development corpus (`shared/data/bible-es-en`) and the reference teacher (`shared/models/
teacher-bible-es-en-small`) live in a `shared` folder next to the checkout (or next to one of its ancestors,
as in CI and in git worktrees). This is the one place that looks for it; everything else asks here.
"""

from __future__ import annotations

from pathlib import Path

BIBLE = Path("data") / "bible-es-en"
REFERENCE_TEACHER = Path("models") / "teacher-bible-es-en-small"


def shared_dir(start: Path | None = None) -> Path | None:
    """The nearest `shared` folder beside the repository or one of its ancestors, when there is one."""
    here = (start or Path(__file__)).resolve()
    for parent in here.parents:
        candidate = parent / "shared"
        if (candidate / BIBLE / "train.tsv").is_file() or (candidate / REFERENCE_TEACHER / "config.json").is_file():
            return candidate
    return None


def shared_path(relative: Path) -> str:
    """`shared/<relative>` as a string when the shared folder exists, else `../shared/<relative>` (what a
    recipe default names; a run then reports the missing path by its key)."""
    folder = shared_dir()
    return str((folder if folder is not None else Path("..") / "shared") / relative)


def in_shared(relative: Path) -> Path:
    """`shared/<relative>` as a path (see `shared_path`): a default that names the shared file or folder even
    where it is missing, so that the error says which."""
    return Path(shared_path(relative))


def bundled_corpus() -> Path | None:
    """The bundled Bible corpus folder (train/valid/test TSVs), when present."""
    folder = shared_dir()
    corpus = folder / BIBLE if folder is not None else None
    return corpus if corpus is not None and (corpus / "train.tsv").is_file() else None


def reference_teacher() -> Path | None:
    """The reference teacher's model folder, when present."""
    folder = shared_dir()
    teacher = folder / REFERENCE_TEACHER if folder is not None else None
    return teacher if teacher is not None and (teacher / "config.json").is_file() else None
