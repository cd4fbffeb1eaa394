"""`kd export --format argos`: the package's layout and metadata, one SentencePiece model, atomic writing and
refusals. (Argos Translate itself installs and runs a package in tests/services/gateway/test_argos_package.py.)"""

from __future__ import annotations

import io
import json
import shutil
import zipfile
from pathlib import Path

import pytest
import sentencepiece as spm

from kd.cli import main
from s2s.argos import SUFFIX, check_single_sentencepiece, write_argos_package
from s2s.errors import KDError
from s2s.export import export_checkpoint
from s2s.languages import Languages


@pytest.fixture(scope="module")
def micro_export(tmp_path_factory: pytest.TempPathFactory, micro_checkpoint: Path, bible_dir: Path) -> Path:
    """The micro model exported (int8) with its pair declared and its BLEU measured on three verses."""
    out = tmp_path_factory.mktemp("argos") / "micro"
    export_checkpoint(micro_checkpoint, out, "int8", eval_tsv=bible_dir / "test.tsv", eval_limit=3,
                      languages=Languages("es", "en"))
    return out


def _members(package: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(package) as archive:
        return {name: archive.read(name) for name in archive.namelist() if not name.endswith("/")}


def test_the_package_holds_one_folder_with_what_argos_reads(micro_export: Path, tmp_path: Path) -> None:
    written = write_argos_package(micro_export, tmp_path / f"micro{SUFFIX}", package_version="1.2")
    files = _members(written.path)
    top = "translate-es_en-micro"
    assert written.folder_name == top and {name.split("/")[0] for name in files} == {top}
    assert set(files) == {f"{top}/{name}" for name in ("metadata.json", "README.md", "sentencepiece.model",
                                                        "model/model.bin", "model/config.json",
                                                        "model/shared_vocabulary.json")}
    assert files[f"{top}/sentencepiece.model"] == (micro_export / "source.spm").read_bytes()
    assert files[f"{top}/model/model.bin"] == (micro_export / "model.bin").read_bytes()
    config = json.loads(files[f"{top}/model/config.json"])
    assert config["add_source_eos"] is True, "Argos sends no </s>: CTranslate2 has to append it"
    assert json.loads((micro_export / "config.json").read_text())["add_source_eos"] is False  # export untouched
    meta = json.loads(files[f"{top}/metadata.json"])
    export_info = json.loads((micro_export / "export.json").read_text())
    assert {k: meta[k] for k in ("from_code", "from_name", "to_code", "to_name", "package_version", "type")} == {
        "from_code": "es", "from_name": "Spanish", "to_code": "en", "to_name": "English", "package_version": "1.2",
        "type": "translate"}
    assert meta["bleu"] == export_info["bleu"] and meta["kd"]["bleu_sentences"] == 3
    assert meta["parameters"] == json.loads((micro_export / "manifest.json").read_text())["parameters"] > 0
    assert meta["kd"]["model_id"] == "micro" and meta["kd"]["quantization"] == "int8"
    readme = files[f"{top}/README.md"].decode()
    assert "Spanish → English" in readme and f"{meta['parameters']:,}" in readme


def test_kd_export_writes_a_package_from_a_checkpoint_or_an_export(micro_checkpoint: Path, micro_export: Path,
                                                                   tmp_path: Path) -> None:
    from_checkpoint = tmp_path / "a.argosmodel"
    assert main(["export", "--model", str(micro_checkpoint), "--out", str(from_checkpoint), "--format", "argos",
                 "--src-lang", "es", "--tgt-lang", "en", "--quantization", "float32"]) == 0
    from_export = tmp_path / "b.argosmodel"
    assert main(["export", "--model", str(micro_export), "--out", str(from_export), "--format", "argos"]) == 0
    meta_a = json.loads(_members(from_checkpoint)["translate-es_en-micro/metadata.json"])
    meta_b = json.loads(_members(from_export)["translate-es_en-micro/metadata.json"])
    assert meta_a["kd"]["quantization"] == "float32" and meta_b["kd"]["quantization"] == "int8"
    assert meta_a["package_version"] == "1.0" and meta_a["bleu"] is None
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.argosmodel", "b.argosmodel"]  # no temporary leftovers
    assert (from_checkpoint.stat().st_mode & 0o644) == 0o644


def test_the_pair_must_be_known_and_the_request_sound(micro_checkpoint: Path, micro_export: Path,
                                                      tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["export", "--model", str(micro_checkpoint), "--out", str(tmp_path / "x.argosmodel"),
                 "--format", "argos"]) == 2
    assert "does not say which languages" in capsys.readouterr().err
    assert main(["export", "--model", str(micro_checkpoint), "--out", str(tmp_path / "x.argosmodel"),
                 "--format", "argos", "--src-lang", "es"]) == 2
    assert "both --src-lang and --tgt-lang" in capsys.readouterr().err
    with pytest.raises(KDError, match=r"\*\.argosmodel"):
        write_argos_package(micro_export, tmp_path / "x.zip")
    with pytest.raises(KDError, match="not a version"):
        write_argos_package(micro_export, tmp_path / "x.argosmodel", package_version="latest")
    with pytest.raises(KDError, match="not a CTranslate2 export"):
        write_argos_package(micro_checkpoint, tmp_path / "x.argosmodel")
    assert list(tmp_path.iterdir()) == []


def test_an_existing_package_is_replaced_whole(micro_export: Path, tmp_path: Path) -> None:
    out = tmp_path / "m.argosmodel"
    out.write_bytes(b"an older package")
    write_argos_package(micro_export, out, languages=("es", "pt"), package_version="2.0")
    assert "translate-es_pt-micro/metadata.json" in _members(out)
    assert [p.name for p in tmp_path.iterdir()] == ["m.argosmodel"]


def _train_spm(lines: list[str], byte_fallback: bool) -> bytes:
    model = io.BytesIO()
    spm.SentencePieceTrainer.train(sentence_iterator=iter(lines), model_writer=model, vocab_size=400,
                                   hard_vocab_limit=False, byte_fallback=byte_fallback, minloglevel=2)
    return model.getvalue()


def _use_as_target(folder: Path, model: bytes) -> None:
    """`model` as target.spm, with a vocab.json of its pieces (as a Marian pair has)."""
    (folder / "target.spm").write_bytes(model)
    processor = spm.SentencePieceProcessor(model_proto=model)
    pieces = [processor.id_to_piece(i) for i in range(processor.get_piece_size())]
    (folder / "vocab.json").write_text(json.dumps({p: i for i, p in enumerate(pieces)}), encoding="utf-8")


def test_a_marian_pair_of_models_is_packaged_only_when_the_source_model_decodes_its_targets(
        micro_export: Path, tmp_path: Path, bible_dir: Path) -> None:
    """Argos decodes output pieces with the one model it has; a target model with byte pieces would not survive."""
    rows = bible_dir.joinpath("valid.tsv").read_text(encoding="utf-8").splitlines()[1:200]
    spanish, english = [r.split("\t")[1] for r in rows], [r.split("\t")[2] for r in rows]
    folder = tmp_path / "pair"
    shutil.copytree(micro_export, folder)
    check_single_sentencepiece(folder)  # joint: one file for both sides
    (folder / "source.spm").write_bytes(_train_spm(spanish, byte_fallback=False))
    _use_as_target(folder, _train_spm(english, byte_fallback=True))
    with pytest.raises(KDError, match=r"target pieces \(e\.g\. '<0x.*decode differently with the source model"):
        check_single_sentencepiece(folder)
    _use_as_target(folder, _train_spm(english, byte_fallback=False))  # another model, ordinary pieces only
    check_single_sentencepiece(folder)
