"""The bundled Spanish-English Bible corpus: copy it from `shared/` or rebuild it from Debian's SWORD modules."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

from s2s.errors import DataError
from s2s.shared import bundled_corpus

SPLITS = ("train", "valid", "test")
SWORD_MODULES = {"es": "spaRV1909eb", "en": "engKJV2006eb"}


def prepare_bible(out_dir: Path, source: Path | None = None) -> Path:
    """Copy the corpus into `out_dir` (from `source` or the shared folder), else build it from SWORD."""
    out_dir = Path(out_dir)
    src = source or bundled_corpus()
    out_dir.mkdir(parents=True, exist_ok=True)
    if src is not None:
        for split in SPLITS:
            if not (Path(src) / f"{split}.tsv").is_file():
                raise DataError(f"{src} lacks {split}.tsv; it is not a bible-es-en corpus folder")
            shutil.copyfile(Path(src) / f"{split}.tsv", out_dir / f"{split}.tsv")
        return out_dir
    return build_from_sword(out_dir)


def split_of(ref: str) -> str:
    """The corpus split of a verse reference: sha1(ref) % 100 in 0-5 test, 6-8 valid, else train."""
    bucket = int(hashlib.sha1(ref.encode("utf-8")).hexdigest(), 16) % 100
    return "test" if bucket <= 5 else "valid" if bucket <= 8 else "train"


def build_from_sword(out_dir: Path) -> Path:
    """Rebuild the corpus from the installed SWORD modules (Debian: python3-sword, sword-text-sparv/-kjv)."""
    try:
        import Sword  # type: ignore[import-not-found]
    except ImportError as exc:
        raise DataError(
            "the shared corpus folder was not found and the SWORD Python bindings are not installed; "
            "either put the corpus at ../shared/data/bible-es-en or run "
            "`apt-get install python3-sword sword-text-sparv sword-text-kjv` (with the system python3)") from exc
    verses = {lang: _module_verses(Sword, name) for lang, name in SWORD_MODULES.items()}
    rows: dict[str, list[str]] = {s: [] for s in SPLITS}
    for ref, es in verses["es"].items():
        en = verses["en"].get(ref)
        if en and es:
            rows[split_of(ref)].append(f"{ref}\t{es}\t{en}")
    for split, lines in rows.items():
        (out_dir / f"{split}.tsv").write_text("ref\tes\ten\n" + "\n".join(lines) + "\n", encoding="utf-8")
    return out_dir


def _module_verses(sword: object, name: str) -> dict[str, str]:
    mgr = sword.SWMgr()  # type: ignore[attr-defined]
    module = mgr.getModule(name)
    if module is None:
        raise DataError(f"SWORD module {name} is not installed (apt-get install sword-text-sparv sword-text-kjv)")
    key = sword.VerseKey("Genesis 1:1")  # type: ignore[attr-defined]
    module.setKey(key)
    verses: dict[str, str] = {}
    while not module.popError():
        ref = module.getKeyText()
        verses[ref] = " ".join(module.stripText().split())
        module.increment()
    return verses
