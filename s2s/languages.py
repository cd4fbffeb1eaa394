"""Which languages a model translates between, and what the codes are called.

A manifest declares its pair in `source_lang` / `target_lang` (set by `kd export --source-lang/--target-lang`).
A student trained by `kd train` does not need to: its manifest records the recipe, whose `data.src_col` and
`data.tgt_col` name the corpus columns it was trained on (`es` and `en` for the Bible corpus), and those
columns are language codes. Anything else (a teacher folder without a manifest, a model made by `kd model
create`) has no known pair: it is served by `/v1/translate` but not offered to LibreTranslate clients, and
Argos packages need the pair given explicitly.
"""

from __future__ import annotations

import re
from typing import Any

from s2s.checkpoint import Manifest
from s2s.errors import KDError

# ISO 639-1 codes (and a few that LibreTranslate uses) with their English names, for `GET /languages`
# and the Argos metadata; a code missing here is still served, named by its code.
LANGUAGE_NAMES = {
    "ar": "Arabic", "az": "Azerbaijani", "bg": "Bulgarian", "bn": "Bengali", "ca": "Catalan", "cs": "Czech",
    "da": "Danish", "de": "German", "el": "Greek", "en": "English", "eo": "Esperanto", "es": "Spanish",
    "et": "Estonian", "eu": "Basque", "fa": "Persian", "fi": "Finnish", "fr": "French", "ga": "Irish",
    "gl": "Galician", "he": "Hebrew", "hi": "Hindi", "hu": "Hungarian", "id": "Indonesian", "it": "Italian",
    "ja": "Japanese", "ko": "Korean", "la": "Latin", "lt": "Lithuanian", "lv": "Latvian", "ms": "Malay",
    "nb": "Norwegian Bokmål", "nl": "Dutch", "pl": "Polish", "pt": "Portuguese", "pb": "Portuguese (Brazil)",
    "ro": "Romanian", "ru": "Russian", "sk": "Slovak", "sl": "Slovenian", "sq": "Albanian", "sv": "Swedish",
    "th": "Thai", "tl": "Tagalog", "tr": "Turkish", "uk": "Ukrainian", "ur": "Urdu", "vi": "Vietnamese",
    "zh": "Chinese", "zt": "Chinese (traditional)",
}

# `es`, `pt-BR`, `zh-Hans`, or NLLB's `spa_Latn`: a 2-3 letter language, then optional subtags.
_CODE = re.compile(r"^[a-z]{2,3}(?:[-_][A-Za-z0-9]{2,8})*$")


def is_language_code(value: Any) -> bool:
    """Whether `value` looks like a language code (and not a column name such as `src` or `text`)."""
    return isinstance(value, str) and bool(_CODE.match(value)) and value not in _NOT_LANGUAGES


_NOT_LANGUAGES = frozenset({"src", "tgt", "ref", "text", "source", "target", "input", "output"})


def language_name(code: str) -> str:
    """The English name of `code`, or the code itself when it is not in the table."""
    return LANGUAGE_NAMES.get(code, code)


def check_language_code(code: str, what: str) -> str:
    """`code` if it is a language code, else a `KDError` naming `what` (e.g. `--source-lang`)."""
    if not is_language_code(code):
        raise KDError(f"{what} {code!r} is not a language code; use one such as es, en or pt-BR")
    return code


def model_languages(manifest: Manifest) -> tuple[str, str] | None:
    """The (source, target) language codes of a model, or None when its manifest does not say.

    The declared `source_lang`/`target_lang` win; else the recipe's corpus columns when both are language
    codes (how `kd train` records what a student was trained on)."""
    if manifest.source_lang and manifest.target_lang:
        return manifest.source_lang, manifest.target_lang
    data = manifest.recipe.get("data") if isinstance(manifest.recipe, dict) else None
    if isinstance(data, dict):
        src, tgt = data.get("src_col"), data.get("tgt_col")
        if is_language_code(src) and is_language_code(tgt) and src != tgt:
            return str(src), str(tgt)
    return None
