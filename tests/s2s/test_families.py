"""Teacher families: every supported Hugging Face family loads, tokenises one direction and decodes back."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from s2s.checkpoint import load_checkpoint
from s2s.errors import CheckpointError, KDError
from s2s.families.registry import FAMILIES, family_of, load_tokenizer
from s2s.languages import Languages

ES_EN = Languages("es", "en")
FAMILY_OF = {"marian_separate": "marian", "t5": "t5", "mbart50": "mbart50", "nllb": "m2m100", "m2m100": "m2m100"}
TARGET_CODE = {"mbart50": "en_XX", "nllb": "eng_Latn", "m2m100": "__en__"}
SOURCE_CODE = {"mbart50": "es_XX", "nllb": "spa_Latn", "m2m100": "__es__"}


@pytest.mark.parametrize("name", list(FAMILY_OF))
def test_each_family_is_recognised_and_loads_with_its_direction(tiny_teachers: dict[str, Path], name: str) -> None:
    folder = tiny_teachers[name]
    assert family_of(folder).name == FAMILY_OF[name]
    ckpt = load_checkpoint(folder, languages=ES_EN)
    tok = ckpt.tokenizer
    assert ckpt.manifest.family == FAMILY_OF[name] and ckpt.manifest.src_lang == "es"
    src, tgt = tok.encode_source("Y dijo Dios"), tok.encode_target("And God said")
    assert src[-1] == tok.eos_id and tgt[-1] == tok.eos_id
    if name in TARGET_CODE:  # the language codes start source and target; the target's is forced
        hf = tok.hf  # type: ignore[attr-defined]
        assert src[0] == hf.convert_tokens_to_ids(SOURCE_CODE[name])
        assert tgt[0] == tok.forced_bos_id == hf.convert_tokens_to_ids(TARGET_CODE[name])
    assert tok.decode(tgt) == "And God said"  # no language code or special token in the text
    assert max(tgt) < tok.vocab_size <= int(ckpt.model.config.vocab_size if name != "marian_separate"
                                            else ckpt.model.config.decoder_vocab_size)
    with torch.inference_mode():  # teacher forcing works from the family's decoder start
        out = ckpt.model(input_ids=torch.tensor([src]), labels=torch.tensor([tgt]))
    assert out.logits.shape[:2] == (1, len(tgt)) and torch.isfinite(out.loss)


def test_t5_reads_its_task_from_a_prefix_derived_from_the_languages(tiny_teachers: dict[str, Path]) -> None:
    tok = load_tokenizer(tiny_teachers["t5"], ES_EN)
    plain = tok.hf("translate Spanish to English: hola").input_ids  # type: ignore[attr-defined]
    assert tok.encode_source("hola") == plain
    own = load_tokenizer(tiny_teachers["t5"], Languages(prefix="traduce: "))
    assert own.encode_source("hola") == own.hf("traduce: hola").input_ids  # type: ignore[attr-defined]
    with pytest.raises(KDError, match="--prefix"):
        load_tokenizer(tiny_teachers["t5"], Languages())


def test_codes_of_the_family_itself_are_accepted(tiny_teachers: dict[str, Path]) -> None:
    iso = load_tokenizer(tiny_teachers["nllb"], ES_EN)
    own = load_tokenizer(tiny_teachers["nllb"], Languages("spa_Latn", "eng_Latn"))
    assert iso.encode_source("hola") == own.encode_source("hola")
    assert load_tokenizer(tiny_teachers["mbart50"], Languages("es_XX", "en_XX")).forced_bos_id is not None


@pytest.mark.parametrize("name", ["mbart50", "nllb", "m2m100"])
def test_language_families_need_known_codes(tiny_teachers: dict[str, Path], name: str) -> None:
    with pytest.raises(KDError, match="--src-lang"):
        load_tokenizer(tiny_teachers[name], Languages())
    with pytest.raises(KDError, match="'xx'"):
        load_tokenizer(tiny_teachers[name], Languages("es", "xx"))


def test_separate_marian_vocabularies_keep_their_own_ids(tiny_teachers: dict[str, Path],
                                                         reference_teacher_dir: Path) -> None:
    import sentencepiece as spm

    folder = tiny_teachers["marian_separate"]
    tok = load_tokenizer(folder)
    source_vocab = json.loads((folder / "vocab.json").read_text())
    target_vocab = json.loads((folder / "target_vocab.json").read_text())
    src_pieces = spm.SentencePieceProcessor(model_file=str(folder / "source.spm")).encode("Y dijo Dios", out_type=str)
    tgt_pieces = spm.SentencePieceProcessor(model_file=str(folder / "target.spm")).encode("And God", out_type=str)
    assert tok.encode_source("Y dijo Dios")[:-1] == [source_vocab.get(p, 1) for p in src_pieces]
    assert tok.encode_target("And God")[:-1] == [target_vocab.get(p, 1) for p in tgt_pieces]
    assert source_vocab != target_vocab and tok.vocab_size == len(target_vocab)
    assert tok.fingerprint != load_tokenizer(reference_teacher_dir).fingerprint


def test_unsupported_architectures_and_damaged_folders_are_named(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "bert"}))
    with pytest.raises(CheckpointError, match=r"bert model.*Supported families: marian"):
        family_of(tmp_path)
    (tmp_path / "config.json").write_text("{not json")
    with pytest.raises(CheckpointError, match="not valid JSON"):
        family_of(tmp_path)
    with pytest.raises(CheckpointError, match="no config.json"):
        family_of(tmp_path / "missing")
    assert sorted(FAMILIES) == ["m2m100", "marian", "mbart50", "t5"]


def test_truncated_weights_are_a_checkpoint_error(tiny_teachers: dict[str, Path], tmp_path: Path) -> None:
    import shutil

    broken = tmp_path / "t5"
    shutil.copytree(tiny_teachers["t5"], broken)
    weights = broken / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:1000])
    with pytest.raises(CheckpointError, match="weights do not load"):
        load_checkpoint(broken, languages=ES_EN)


@pytest.mark.parametrize("name", ["t5", "mbart50", "nllb", "m2m100", "marian_separate"])
def test_every_family_translates_and_coded_ones_start_with_the_target_code(
        tiny_teachers: dict[str, Path], name: str) -> None:
    from s2s.decoding import generate_nbest, translate

    ckpt = load_checkpoint(tiny_teachers[name], languages=ES_EN)
    ckpt.model.generation_config.forced_bos_token_id = None  # as in published NLLB: the caller must force it
    texts = translate(ckpt.model, ckpt.tokenizer, ["Y dijo Dios", "Sea la luz"], beam_size=2, max_len=8)
    assert len(texts) == 2 and all(isinstance(t, str) for t in texts)
    tok = ckpt.tokenizer
    hyps = generate_nbest(ckpt.model, [tok.encode_source("Y dijo Dios")], tok.pad_id, 2, 2, 8,
                          forced_bos_id=tok.forced_bos_id)
    for hyp in hyps[0]:
        assert len(hyp.ids) <= 8
        if tok.forced_bos_id is not None:
            assert hyp.ids[0] == tok.forced_bos_id
