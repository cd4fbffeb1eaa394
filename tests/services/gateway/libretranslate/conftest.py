"""Exports that declare their languages, and a gateway serving them for the LibreTranslate API tests."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from s2s.export import export_checkpoint
from s2s.languages import Languages

# LibreTranslate requests set no output length: the gateway's default applies. Random models never stop
# early, so the tests' gateways keep it short.
DEFAULT_LENGTH = 12


@pytest.fixture(scope="session")
def lt_exports(tmp_path_factory: pytest.TempPathFactory, micro_checkpoint: Path,
               make_checkpoint: Callable[..., Path]) -> dict[str, Path]:
    """float32 exports: the shared micro model as es->en, and another model as es->fr."""
    root = tmp_path_factory.mktemp("lt-exports")
    other = make_checkpoint(root / "seed2", seed=2)
    export_checkpoint(micro_checkpoint, root / "es-en", "float32", languages=Languages("es", "en"))
    export_checkpoint(other, root / "es-fr", "float32", languages=Languages("es", "fr"))
    return {"es-en": root / "es-en", "es-fr": root / "es-fr"}


@pytest.fixture
def lt_gateway(serve: Any, models_dir: Callable[..., Path], lt_exports: dict[str, Path]) -> Iterator[Any]:
    """A gateway serving `micro` (es->en, the default model) only."""
    with serve(models_dir(micro=lt_exports["es-en"]), default_max_length=DEFAULT_LENGTH) as gw:
        yield gw
