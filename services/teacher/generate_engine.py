"""The teacher's CTranslate2 engines: exports made at start-up, and the `Generate` engine on one of them.

At start-up a served checkpoint is exported to CTranslate2 in a private temporary folder (`StartupExport`),
removed again when the server stops. `Ct2Generator` answers `Generate` from one (beam search 2-3x faster on
CPU; int8 by default); `TopK` and `Score` use exports through `s2s.teacher.ct2_scorer` with `--engine
ctranslate2`. Generate's outputs differ slightly from PyTorch beam search (quantised weights, another search
implementation), so cached n-best lists are keyed by the engine too.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from s2s.languages import Languages

if TYPE_CHECKING:
    from s2s.ct2_runtime import Ct2Model

# CTranslate2 is imported when an engine is made, so that a teacher without them runs where it is not installed.


class StartupExport:
    """A CTranslate2 export of a model folder in a private temporary folder, made now; `close` removes it."""

    def __init__(self, model_dir: Path, quantization: str, languages: Languages | None = None) -> None:
        self._tmp = Path(tempfile.mkdtemp(prefix="kd-teacher-ct2-"))
        self.folder = self._tmp / "export"
        self.quantization = quantization
        try:
            from s2s.export import export_checkpoint

            export_checkpoint(model_dir, self.folder, quantization=quantization, languages=languages)
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        shutil.rmtree(self._tmp, ignore_errors=True)


class Ct2Generator:
    """A CTranslate2 export of the teacher (made now, or given), answering n-best requests."""

    def __init__(self, model_dir: Path, quantization: str = "int8", threads: int = 0,
                 languages: Languages | None = None, export: StartupExport | None = None) -> None:
        self._own = export is None
        self.export = export or StartupExport(model_dir, quantization, languages)
        try:
            from s2s.ct2_runtime import Ct2Model

            self.model: Ct2Model = Ct2Model(self.export.folder, threads=threads)
        except BaseException:
            self.close()
            raise
        self.cache_tag = f"ct2-{self.export.quantization}"

    def close(self) -> None:
        if self._own:
            self.export.close()
