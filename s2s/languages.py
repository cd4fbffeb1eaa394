"""The language settings of a translation direction, and the codes each teacher family writes them in.

Users name languages by their ISO 639-1 codes (`es`, `en`), as corpora and `kd up --src/--tgt` do. Teacher
families spell them their own way: mBART-50 `es_XX`, NLLB `spa_Latn`, M2M100 `__es__`, T5 a task prefix
("translate Spanish to English: "). The tables below translate the common ISO codes; a family's own code
is always accepted as is.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from s2s.errors import KDError

# ISO 639-1 -> (English name, ISO 639-3 with script as NLLB-200 spells it).
_LANGUAGES: dict[str, tuple[str, str]] = {
    "af": ("Afrikaans", "afr_Latn"), "ar": ("Arabic", "arb_Arab"), "bg": ("Bulgarian", "bul_Cyrl"),
    "bn": ("Bengali", "ben_Beng"), "ca": ("Catalan", "cat_Latn"), "cs": ("Czech", "ces_Latn"),
    "da": ("Danish", "dan_Latn"), "de": ("German", "deu_Latn"), "el": ("Greek", "ell_Grek"),
    "en": ("English", "eng_Latn"), "es": ("Spanish", "spa_Latn"), "et": ("Estonian", "est_Latn"),
    "eu": ("Basque", "eus_Latn"), "fa": ("Persian", "pes_Arab"), "fi": ("Finnish", "fin_Latn"),
    "fr": ("French", "fra_Latn"), "gl": ("Galician", "glg_Latn"), "he": ("Hebrew", "heb_Hebr"),
    "hi": ("Hindi", "hin_Deva"), "hr": ("Croatian", "hrv_Latn"), "hu": ("Hungarian", "hun_Latn"),
    "id": ("Indonesian", "ind_Latn"), "is": ("Icelandic", "isl_Latn"), "it": ("Italian", "ita_Latn"),
    "ja": ("Japanese", "jpn_Jpan"), "ko": ("Korean", "kor_Hang"), "lt": ("Lithuanian", "lit_Latn"),
    "lv": ("Latvian", "lvs_Latn"), "nl": ("Dutch", "nld_Latn"), "no": ("Norwegian", "nob_Latn"),
    "pl": ("Polish", "pol_Latn"), "pt": ("Portuguese", "por_Latn"), "ro": ("Romanian", "ron_Latn"),
    "ru": ("Russian", "rus_Cyrl"), "sk": ("Slovak", "slk_Latn"), "sl": ("Slovenian", "slv_Latn"),
    "sr": ("Serbian", "srp_Cyrl"), "sv": ("Swedish", "swe_Latn"), "sw": ("Swahili", "swh_Latn"),
    "th": ("Thai", "tha_Thai"), "tr": ("Turkish", "tur_Latn"), "uk": ("Ukrainian", "ukr_Cyrl"),
    "vi": ("Vietnamese", "vie_Latn"), "zh": ("Chinese", "zho_Hans"),
}


@dataclass(frozen=True)
class Languages:
    """A translation direction: source and target language (ISO 639-1 or a family's own code) and, for
    task-prefix families (T5), the prefix put before every source (None = derived from the languages)."""

    src: str | None = None
    tgt: str | None = None
    prefix: str | None = None

    def merged(self, fallback: Languages) -> Languages:
        """These settings, with what is unset taken from `fallback` (e.g. a manifest's stored languages)."""
        return Languages(self.src or fallback.src, self.tgt or fallback.tgt,
                         self.prefix if self.prefix is not None else fallback.prefix)

    def to_dict(self) -> dict[str, str | None]:
        return {"src": self.src, "tgt": self.tgt, "prefix": self.prefix}


def language_name(code: str) -> str:
    """The English name of an ISO 639-1 code (for T5's task prefix)."""
    if code in _LANGUAGES:
        return _LANGUAGES[code][0]
    known = ", ".join(sorted(_LANGUAGES))
    raise KDError(f"no English name known for language {code!r} (known: {known}); "
                  "give the task prefix yourself with --prefix")


def nllb_code(code: str) -> str:
    """`spa_Latn` for `es`; a code that already has NLLB's form is returned unchanged."""
    if "_" in code:
        return code
    if code in _LANGUAGES:
        return _LANGUAGES[code][1]
    raise KDError(f"no NLLB code known for language {code!r}; pass the NLLB code itself (e.g. spa_Latn)")


def iso_of(code: str) -> str:
    """The ISO 639-1 code behind a family's code where one is known (`spa_Latn`, `es_XX`, `__es__` -> `es`)."""
    bare = code.strip("_")
    for iso, (_, nllb) in _LANGUAGES.items():
        if bare in (iso, nllb) or bare.split("_")[0] == iso:
            return iso
    return bare


# Display names for `GET /languages` and Argos metadata (LibreTranslate's codes included, e.g. `pb`, `zt`);
# a code missing here is still served, named by its code.
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
_NOT_LANGUAGES = frozenset({"src", "tgt", "ref", "text", "source", "target", "input", "output"})


def display_name(code: str) -> str:
    """The English name of `code` for people (the code itself when no name is known)."""
    return LANGUAGE_NAMES.get(code) or (_LANGUAGES[code][0] if code in _LANGUAGES else code)


def is_language_code(value: Any) -> bool:
    """Whether `value` looks like a language code (and not a column name such as `src` or `text`)."""
    return isinstance(value, str) and bool(_CODE.match(value)) and value not in _NOT_LANGUAGES


def check_language_code(code: str, what: str) -> str:
    """`code` if it is a language code, else a `KDError` naming `what` (e.g. `--src-lang`)."""
    if not is_language_code(code):
        raise KDError(f"{what} {code!r} is not a language code; use one such as es, en or pt-BR")
    return code
