"""Argos Translate packages (`.argosmodel`) from CTranslate2 exports: `kd export --format argos`.

An Argos package is a zip archive of one folder that holds `metadata.json` (language codes and names,
package version), `model/` (a CTranslate2 model), `sentencepiece.model` and a `README.md`.
`argostranslate.package.install_from_path` unpacks it into Argos' packages folder, where Argos Translate and
LibreTranslate find it. To translate, Argos splits the text into sentences, encodes each with the package's
SentencePiece model, runs CTranslate2 on the pieces and decodes the output pieces with the same model.

Two things differ from how the gateway drives the same export, and the package accounts for both:

- The gateway appends `</s>` to each source, as the Marian tokenizer does; Argos passes SentencePiece's pieces
  as they are. The package's CTranslate2 `config.json` sets `add_source_eos`, so CTranslate2 appends it and
  the model reads what it was trained on (without it a Marian model does not see where the sentence ends and
  repeats itself).
- Argos has one SentencePiece model for both sides. It has to be the source model, since the encoder must get
  exactly the pieces it was trained on; Argos then decodes target pieces with it too. SentencePiece decodes a
  piece its model does not know into the piece's own text and Argos turns `▁` into a space, which is what a
  target model does with an ordinary piece. The project's tokenizers are joint (`source.spm` and `target.spm`
  are one file), so this is exact. For a Marian pair of different models (e.g. an `opus-mt-*` folder) the
  writer decodes every target piece both ways and refuses the export if any comes out differently (byte
  fallback or user-defined pieces), instead of shipping a package that garbles those words.

The archive is written to a temporary file next to `out` and renamed into place, so a half-written package
is never left behind.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sentencepiece as spm

from s2s.checkpoint import BLEU_KEYS, Manifest, model_languages, read_manifest
from s2s.ct2_runtime import CT2_FILES, ExportInfo, is_export, read_export_info
from s2s.errors import KDError
from s2s.languages import check_language_code, display_name
from s2s.tokenizer import EOS, PAD, UNK

SUFFIX = ".argosmodel"
ARGOS_VERSION = "1.0"
_VERSION = re.compile(r"^\d+(\.\d+){0,3}$")


@dataclass(frozen=True)
class ArgosPackage:
    """What `write_argos_package` wrote."""

    path: Path
    folder_name: str
    from_code: str
    to_code: str
    package_version: str
    size_bytes: int


def write_argos_package(export_dir: Path, out: Path, languages: tuple[str, str] | None = None,
                        package_version: str = "1.0") -> ArgosPackage:
    """Package the CTranslate2 export `export_dir` (as `kd export` writes it) as the Argos package `out`.

    `languages` (source, target) overrides what the manifest says (`s2s.checkpoint.model_languages`); one of
    the two must give the pair. An existing file at `out` is replaced."""
    export_dir, out = Path(export_dir), Path(out)
    if not is_export(export_dir):
        raise KDError(f"{export_dir} is not a CTranslate2 export; make one with `kd export --model CHECKPOINT`")
    if out.suffix != SUFFIX or out.is_dir():
        raise KDError(f"the Argos package must be a file named *{SUFFIX}, got {out}")
    if not _VERSION.match(package_version):
        raise KDError(f"package version {package_version!r} is not a version such as 1.0 or 1.2.3")
    info = read_export_info(export_dir)
    manifest = read_manifest(export_dir)
    if manifest.family != "marian":
        raise KDError(f"{export_dir} is a {manifest.family} model: Argos Translate applies one SentencePiece model "
                      "as is and adds no task prefix or language code, which this family needs. Package a "
                      "student distilled from it instead (kd up, then kd export --format argos on the student)")
    src, tgt = _pair(manifest, languages)
    check_single_sentencepiece(export_dir)
    folder_name = f"translate-{src}_{tgt}-{_slug(manifest.model_id)}"
    metadata = _metadata(manifest, info, src, tgt, package_version)
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=f".{out.name}.build-", dir=out.parent) as build:
        package = Path(build) / folder_name
        _fill(package, export_dir, metadata, info)
        _zip_atomically(package, out)
    return ArgosPackage(out, folder_name, src, tgt, package_version, out.stat().st_size)


def _pair(manifest: Manifest, languages: tuple[str, str] | None) -> tuple[str, str]:
    if languages is not None:
        return (check_language_code(languages[0], "source language"),
                check_language_code(languages[1], "target language"))
    pair = model_languages(manifest)
    if pair is None:
        raise KDError(f"the manifest of {manifest.model_id!r} does not say which languages it translates; "
                      "pass --src-lang and --tgt-lang (e.g. --src-lang es --tgt-lang en)")
    return pair


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", text).strip("-.") or "model"


def _metadata(manifest: Manifest, info: ExportInfo, src: str, tgt: str, version: str) -> dict[str, Any]:
    """Argos' fields (it ignores the others), plus the model's BLEU, parameters and lineage."""
    bleu, bleu_set = (info.bleu, info.bleu_set) if info.bleu is not None else _manifest_bleu(manifest)
    return {
        "package_version": version, "argos_version": ARGOS_VERSION, "type": "translate",
        "from_code": src, "from_name": display_name(src), "to_code": tgt, "to_name": display_name(tgt),
        "links": [], "bleu": bleu, "parameters": manifest.parameters,
        "kd": {"model_id": manifest.model_id, "parent_teacher": manifest.parent_teacher,
               "bleu_set": bleu_set, "bleu_sentences": info.bleu_sentences if info.bleu is not None else None,
               "quantization": info.quantization, "max_source_positions": info.max_source_positions,
               "vocab_fingerprint": manifest.vocab_fingerprint, "ctranslate2_version": info.ctranslate2_version,
               "exported_at": info.exported_at},
    }


def _manifest_bleu(manifest: Manifest) -> tuple[float | None, str | None]:
    for key in BLEU_KEYS:
        value = manifest.metrics.get(key)
        if isinstance(value, int | float):
            return round(float(value), 2), f"manifest metrics.{key}"
    return None, None


def _fill(package: Path, export_dir: Path, metadata: dict[str, Any], info: ExportInfo) -> None:
    """The package folder: model/ (CTranslate2, appending `</s>` itself), sentencepiece.model, metadata, README."""
    model = package / "model"
    model.mkdir(parents=True)
    for name in CT2_FILES:
        shutil.copyfile(export_dir / name, model / name)
    config = json.loads((model / "config.json").read_text(encoding="utf-8"))
    config["add_source_eos"] = True
    (model / "config.json").write_text(json.dumps(config, indent=2), encoding="utf-8")
    shutil.copyfile(export_dir / "source.spm", package / "sentencepiece.model")
    (package / "metadata.json").write_text(json.dumps(metadata, indent=2, ensure_ascii=False), encoding="utf-8")
    (package / "README.md").write_text(_readme(metadata, info), encoding="utf-8")


def _readme(meta: dict[str, Any], info: ExportInfo) -> str:
    kd = meta["kd"]
    bleu = f"{meta['bleu']:.2f} ({kd['bleu_set']})" if meta["bleu"] is not None else "not measured"
    shortlist = ("\nThe export decoded with a lexical shortlist; Argos does not apply one, so it decodes with the "
                 "full output layer (the same words or better, a little slower).\n") if info.vmap else ""
    return (f"# {meta['from_name']} → {meta['to_name']}: {kd['model_id']}\n\n"
            f"A sequence-to-sequence model distilled with kd (knowledge distillation), packaged by "
            f"`kd export --format argos`.\n\n"
            f"- languages: {meta['from_code']} → {meta['to_code']}\n- package version: {meta['package_version']}\n"
            f"- parameters: {meta['parameters']:,}\n- BLEU: {bleu}\n- weights: {kd['quantization']} "
            f"(CTranslate2 {kd['ctranslate2_version']})\n- teacher: {kd['parent_teacher'] or 'none recorded'}\n\n"
            f"Sentences longer than {kd['max_source_positions']} tokens are beyond what the model reads; the "
            f"model translates one sentence at a time best.\n{shortlist}")


def check_single_sentencepiece(folder: Path) -> None:
    """Refuse an export whose target pieces Argos would decode differently with the source model.

    Argos decodes output pieces with the package's one SentencePiece model (the source model, see the module
    docstring). For a joint tokenizer that is exact; for two different models, every piece the target model
    knows is decoded by both and any difference is reported."""
    folder = Path(folder)
    if (folder / "source.spm").read_bytes() == (folder / "target.spm").read_bytes():
        return
    source = spm.SentencePieceProcessor(model_file=str(folder / "source.spm"))
    target = spm.SentencePieceProcessor(model_file=str(folder / "target.spm"))
    vocab = json.loads((folder / "vocab.json").read_text(encoding="utf-8"))
    differ = [piece for piece in vocab if piece not in (EOS, UNK, PAD)
              and target.piece_to_id(piece) != target.unk_id()
              and argos_decode(source, [piece]).strip() != str(target.decode_pieces([piece])).strip()]
    if differ:
        shown = ", ".join(repr(p) for p in differ[:5])
        raise KDError(f"{folder}: source.spm and target.spm are different SentencePiece models and {len(differ)} "
                      f"target pieces (e.g. {shown}) decode differently with the source model, which is the "
                      "only one an Argos package carries; export a model with a joint tokenizer")


def argos_decode(model: spm.SentencePieceProcessor, pieces: list[str]) -> str:
    """How Argos Translate 1.11 turns output pieces into text (without its `_` → space replacement)."""
    return str(model.decode_pieces(pieces)).replace("▁", " ")


def _zip_atomically(package: Path, out: Path) -> None:
    """Zip `package` (its folder name as the archive's top level) into `out` via a temporary sibling file."""
    fd, tmp_name = tempfile.mkstemp(prefix=f".{out.name}.tmp-", dir=out.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            for path in sorted(package.rglob("*")):
                archive.write(path, path.relative_to(package.parent).as_posix())
        tmp.chmod(0o644)  # mkstemp creates it private; a package is as readable as any file written here
        os.replace(tmp, out)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
