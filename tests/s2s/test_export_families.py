"""Every teacher family converts to CTranslate2, and its float32 export decodes like the PyTorch model."""

from __future__ import annotations

from pathlib import Path

import pytest

from s2s.checkpoint import load_checkpoint, read_manifest
from s2s.ct2_runtime import Ct2Model
from s2s.decoding import generate_nbest, translate
from s2s.errors import KDError
from s2s.export import export_checkpoint
from s2s.languages import Languages

ES_EN = Languages("es", "en")
SOURCES = ["Y dijo Dios: Sea la luz.", "En el principio creó Dios los cielos y la tierra.", "Amén."]


@pytest.mark.parametrize("name", ["marian_separate", "t5", "mbart50", "nllb", "m2m100"])
def test_float32_export_decodes_like_pytorch(tiny_teachers: dict[str, Path], tmp_path: Path, name: str) -> None:
    out = tmp_path / name
    export_checkpoint(tiny_teachers[name], out, quantization="float32", languages=ES_EN)
    manifest = read_manifest(out)
    assert manifest.src_lang == "es" and manifest.tgt_lang == "en"
    ct2 = Ct2Model(out)
    ckpt = load_checkpoint(tiny_teachers[name], languages=ES_EN)
    assert ct2.tokenizer.fingerprint == ckpt.tokenizer.fingerprint
    assert ct2.translate(SOURCES, max_len=10) == translate(ckpt.model, ckpt.tokenizer, SOURCES, max_len=10)
    tok = ckpt.tokenizer
    src = [tok.encode_source(s) for s in SOURCES]
    torch_ids = [h[0].ids for h in generate_nbest(ckpt.model, src, tok.pad_id, 1, 1, 10,
                                                  forced_bos_id=tok.forced_bos_id)]
    ct2_ids = [h[0].ids for h in ct2.nbest(src, 1, 1, 10)]
    for a, b in zip(torch_ids, ct2_ids, strict=True):  # same tokens, up to the end-of-sentence either adds
        assert a[: len(b) - 1] == b[:-1][: len(a)]


def test_int8_export_of_a_language_family_serves_its_direction(tiny_teachers: dict[str, Path],
                                                               tmp_path: Path) -> None:
    export_checkpoint(tiny_teachers["nllb"], tmp_path / "nllb", languages=Languages("es", "en"))
    model = Ct2Model(tmp_path / "nllb")
    assert model.tokenizer.forced_bos_id == model.tokenizer.hf.convert_tokens_to_ids("eng_Latn")  # type: ignore
    assert len(model.translate(SOURCES)) == 3
    with pytest.raises(KDError, match="--src-lang"):
        export_checkpoint(tiny_teachers["nllb"], tmp_path / "no-languages")
    assert not (tmp_path / "no-languages").exists() and not list(tmp_path.glob(".no-languages*"))
