"""The Hugging Face families that tokenise with their own tokenizer: T5 / mT5, mBART-50, M2M100 / NLLB.

Each says how its folder is recognised, how the direction is set (a task prefix, or language codes, the
target's forced first token), and what CTranslate2's converter needs that such a folder may lack.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from s2s.errors import KDError, TokenizerError
from s2s.families.base import SeqTokenizer, TeacherFamily
from s2s.families.hf_tokenizer import HFTokenizer
from s2s.languages import Languages, iso_of, language_name, nllb_code


def _auto_tokenizer(folder: Path, **kwargs: Any) -> Any:
    from transformers import AutoTokenizer

    try:
        return AutoTokenizer.from_pretrained(str(folder), local_files_only=True, **kwargs)
    except (OSError, ValueError, TypeError) as exc:
        raise TokenizerError(f"{folder}: its tokenizer does not load ({exc}); the folder needs the tokenizer "
                             "files the model was published with (e.g. spiece.model, sentencepiece.bpe.model, "
                             "tokenizer.json)") from exc


def _require_languages(family: TeacherFamily, folder: Path, languages: Languages) -> tuple[str, str]:
    if not languages.src or not languages.tgt:
        raise KDError(f"{folder} is a {family.title} model: give the source and target language "
                      "(--src-lang / --tgt-lang, ISO codes such as es / en or the model's own codes)")
    return languages.src, languages.tgt


def _known_code(hf: Any, token: str, folder: Path, given: str, family: TeacherFamily) -> int:
    """The id of a language-code token, or a clear error when the tokenizer does not know it."""
    token_id = hf.convert_tokens_to_ids(token)
    if token_id is None or token_id == hf.unk_token_id:
        raise KDError(f"language {given!r} ({token}) is not a language code of {folder}'s {family.title} "
                      "tokenizer; pass one it knows with --src-lang / --tgt-lang")
    return int(token_id)


class T5Family(TeacherFamily):
    """T5 and mT5: no language codes; the direction is a task prefix ("translate Spanish to English: ")."""

    name, title, model_types = "t5", "T5 / mT5", ("t5", "mt5")

    def load_tokenizer(self, folder: Path, languages: Languages, vocab_size: int | None = None) -> SeqTokenizer:
        hf = _auto_tokenizer(folder)
        prefix = languages.prefix
        if prefix is None:
            if not languages.src or not languages.tgt:
                raise KDError(f"{folder} is a T5 model, which reads its task from a prefix: give --prefix "
                              "(e.g. 'translate Spanish to English: ') or --src-lang / --tgt-lang to derive it")
            prefix = f"translate {language_name(iso_of(languages.src))} to {language_name(iso_of(languages.tgt))}: "
        return HFTokenizer(folder, hf, Languages(languages.src, languages.tgt, prefix), prefix,
                           vocab_size=vocab_size)


class MBart50Family(TeacherFamily):
    """mBART-50: language codes such as `es_XX` start the source and (forced) the target."""

    name, title, model_types, language_codes = "mbart50", "mBART-50", ("mbart",), True

    def load_tokenizer(self, folder: Path, languages: Languages, vocab_size: int | None = None) -> SeqTokenizer:
        src, tgt = _require_languages(self, folder, languages)
        probe = _auto_tokenizer(folder)
        codes = [self._code(probe, c, folder) for c in (src, tgt)]
        hf = _auto_tokenizer(folder, src_lang=codes[0], tgt_lang=codes[1])
        bos = _known_code(hf, codes[1], folder, tgt, self)
        return HFTokenizer(folder, hf, Languages(src, tgt, None), forced_bos_id=bos,
                           drop_ids=[hf.convert_tokens_to_ids(codes[0]), bos], vocab_size=vocab_size)

    def _code(self, hf: Any, given: str, folder: Path) -> str:
        if "_" in given:
            _known_code(hf, given, folder, given, self)
            return given
        vocab = hf.get_vocab()
        matches = sorted(t for t in vocab if len(t) == 5 and t[2] == "_" and t.split("_")[0] == given)
        if not matches:
            raise KDError(f"language {given!r} has no mBART-50 code in {folder}'s tokenizer; pass the code "
                          "itself (e.g. es_XX) with --src-lang / --tgt-lang")
        return matches[0]

    def prepare_for_ct2(self, model: Any, tokenizer: Any) -> None:
        # mBART is pre-norm with a layer norm on the embeddings; transformers 5 configs no longer spell it out.
        for key in ("normalize_before", "normalize_embedding"):
            if not hasattr(model.config, key):
                setattr(model.config, key, True)
        if getattr(tokenizer, "bos_token", None) is None:
            tokenizer.bos_token = tokenizer.convert_ids_to_tokens(0)
        # CTranslate2 starts the decoder from the first target token (the language code, as mBART-25 does)
        # unless the config names the mBART-50 tokenizer; PyTorch starts from `</s>` and then forces the code.
        config = model.config
        if config.decoder_start_token_id == config.eos_token_id and not getattr(config, "tokenizer_class", None):
            config.tokenizer_class = "MBart50Tokenizer"


class M2M100Family(TeacherFamily):
    """M2M100 and NLLB (same architecture): `__es__` or `spa_Latn` codes start source and target."""

    name, title, model_types, language_codes = "m2m100", "M2M100 / NLLB", ("m2m_100",), True

    def load_tokenizer(self, folder: Path, languages: Languages, vocab_size: int | None = None) -> SeqTokenizer:
        src, tgt = _require_languages(self, folder, languages)
        nllb = "nllb" in type(_auto_tokenizer(folder)).__name__.lower()
        codes = [nllb_code(c) if nllb else c.strip("_") for c in (src, tgt)]
        hf = _auto_tokenizer(folder, src_lang=codes[0], tgt_lang=codes[1])
        tokens = codes if nllb else [f"__{c}__" for c in codes]
        src_id = _known_code(hf, tokens[0], folder, src, self)
        bos = _known_code(hf, tokens[1], folder, tgt, self)
        return HFTokenizer(folder, hf, Languages(src, tgt, None), forced_bos_id=bos, drop_ids=[src_id, bos],
                           vocab_size=vocab_size)
