"""Fixtures shared by every test package: paths to the shared corpus and reference teacher, tiny models."""

from __future__ import annotations

from pathlib import Path

import pytest

from s2s.checkpoint import Manifest, save_checkpoint
from s2s.presets import build_model, count_parameters
from s2s.tokenizer import Tokenizer

_HOME_RAY = Path.home() / ".ray"
_HOME_RAY_EXISTED = _HOME_RAY.exists()

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
REFERENCE_TEACHER = SHARED / "models" / "teacher-bible-es-en-small"
BIBLE = SHARED / "data" / "bible-es-en"


@pytest.fixture(scope="session")
def reference_teacher_dir() -> Path:
    """The shared reference teacher folder (a Hugging Face Marian model)."""
    if not (REFERENCE_TEACHER / "config.json").is_file():
        pytest.fail(f"{REFERENCE_TEACHER} is missing: tests need ../shared beside the repository")
    return REFERENCE_TEACHER


@pytest.fixture(scope="session")
def bible_dir() -> Path:
    """The shared Bible corpus folder."""
    if not (BIBLE / "test.tsv").is_file():
        pytest.fail(f"{BIBLE} is missing: tests need ../shared beside the repository")
    return BIBLE


@pytest.fixture(scope="session")
def tokenizer(reference_teacher_dir: Path) -> Tokenizer:
    """The reference teacher's tokenizer (8,001 ids)."""
    return Tokenizer(reference_teacher_dir)


@pytest.fixture(scope="session")
def micro_checkpoint(tmp_path_factory: pytest.TempPathFactory, tokenizer: Tokenizer) -> Path:
    """A tiny random Marian model (preset `test-micro`) saved as a project checkpoint."""
    model = build_model("test-micro", tokenizer, seed=1)
    out = tmp_path_factory.mktemp("ckpt") / "micro"
    manifest = Manifest(model_id="micro", vocab_fingerprint=tokenizer.fingerprint,
                        parameters=count_parameters(model), preset="test-micro")
    return save_checkpoint(model, tokenizer, out, manifest)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Fail the run if anything created `~/.ray`: every Ray the project starts must use its own token
    (on a fresh machine there is no `~/.ray`, and CI runs with a throwaway HOME to prove it)."""
    if not _HOME_RAY_EXISTED and _HOME_RAY.exists():
        created = sorted(str(p) for p in _HOME_RAY.rglob("*"))
        print(f"\nFAILED: the tests wrote to {_HOME_RAY} ({created}); Ray must use the project's own token")
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
