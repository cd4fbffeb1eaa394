"""The optional CTranslate2 engine for the teacher's `Generate`: beam search 2-3x faster on CPU.

At start-up the served checkpoint is exported to CTranslate2 (int8 by default) in a private temporary
folder, removed again when the server stops. Only `Generate` uses it; `TopK` and `Score` need the
model's full distributions and stay on PyTorch. Its outputs differ slightly from PyTorch beam search
(quantised weights, another search implementation), so cached n-best lists are keyed by the engine too.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from s2s.ct2_runtime import Ct2Model
from s2s.export import export_checkpoint
from s2s.languages import Languages


class Ct2Generator:
    """A CTranslate2 export of the teacher, made now, answering n-best requests."""

    def __init__(self, model_dir: Path, quantization: str = "int8", threads: int = 0,
                 languages: Languages | None = None) -> None:
        self._folder = Path(tempfile.mkdtemp(prefix="kd-teacher-ct2-"))
        try:
            export_checkpoint(model_dir, self._folder / "export", quantization=quantization, languages=languages)
            self.model = Ct2Model(self._folder / "export", threads=threads)
        except BaseException:
            self.close()
            raise
        self.cache_tag = f"ct2-{quantization}"

    def close(self) -> None:
        shutil.rmtree(self._folder, ignore_errors=True)
