"""Fixtures shared by every test package: paths to the shared corpus and reference teacher, tiny models."""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Callable, Iterable
from pathlib import Path

import pytest

from s2s.checkpoint import Manifest, save_checkpoint
from s2s.presets import build_model, count_parameters
from s2s.shared import BIBLE, REFERENCE_TEACHER, bundled_corpus, in_shared, reference_teacher
from s2s.tokenizer import Tokenizer

_HOME_RAY = Path.home() / ".ray"
_HOME_RAY_EXISTED = _HOME_RAY.exists()


@pytest.fixture(scope="session")
def reference_teacher_dir() -> Path:
    """The shared reference teacher folder (a Hugging Face Marian model), found by `s2s.shared`."""
    teacher = reference_teacher()
    if teacher is None:
        pytest.fail(f"{in_shared(REFERENCE_TEACHER)} is missing: tests need ../shared beside the repository")
    return teacher


@pytest.fixture(scope="session")
def bible_dir() -> Path:
    """The shared Bible corpus folder, found by `s2s.shared`."""
    corpus = bundled_corpus()
    if corpus is None or not (corpus / "test.tsv").is_file():
        pytest.fail(f"{in_shared(BIBLE)} is missing: tests need ../shared beside the repository")
    return corpus


@pytest.fixture(scope="session")
def tokenizer(reference_teacher_dir: Path) -> Tokenizer:
    """The reference teacher's tokenizer (8,001 ids)."""
    return Tokenizer(reference_teacher_dir)


@pytest.fixture(scope="session")
def micro_checkpoint(tmp_path_factory: pytest.TempPathFactory, tokenizer: Tokenizer) -> Path:
    """A tiny random Marian model (preset `test-micro`) saved as a project checkpoint."""
    model = build_model("test-micro", tokenizer, seed=1)
    out = tmp_path_factory.mktemp("ckpt") / "micro"
    manifest = Manifest(model_id="micro", vocab_fingerprint=tokenizer.fingerprint,
                        parameters=count_parameters(model), preset="test-micro")
    return save_checkpoint(model, tokenizer, out, manifest)


@pytest.fixture(scope="session")
def micro_checkpoint_b(tmp_path_factory: pytest.TempPathFactory, tokenizer: Tokenizer) -> Path:
    """A second tiny random Marian on the same tokenizer as `micro_checkpoint` (another seed): an ensemble
    member that shares its vocabulary but not its weights."""
    model = build_model("test-micro", tokenizer, seed=2)
    out = tmp_path_factory.mktemp("ckpt") / "micro-b"
    manifest = Manifest(model_id="micro-b", vocab_fingerprint=tokenizer.fingerprint,
                        parameters=count_parameters(model), preset="test-micro")
    return save_checkpoint(model, tokenizer, out, manifest)


def _listening_table() -> dict[int, str]:
    """Socket inode -> "address:port" of every listening TCP socket on this machine (IPv4 and IPv6)."""
    found = {}
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if fields[3] != "0A":  # LISTEN
                continue
            hex_addr, hex_port = fields[1].split(":")
            raw = bytes.fromhex(hex_addr)  # each 32-bit word in host (little-endian) order
            packed = b"".join(raw[i:i + 4][::-1] for i in range(0, len(raw), 4))
            found[int(fields[9])] = f"{ipaddress.ip_address(packed)}:{int(hex_port, 16)}"
    return found


def listening_addresses(pids: Iterable[int]) -> dict[int, list[str]]:
    """pid -> the addresses its listening TCP sockets are bound to (Linux /proc)."""
    table, held = _listening_table(), {}
    for pid in pids:
        try:
            links = [os.readlink(f) for f in Path(f"/proc/{pid}/fd").iterdir()]
        except OSError:
            continue  # gone, or not ours
        inodes = [int(link[8:-1]) for link in links if link.startswith("socket:[")]
        held[pid] = [table[i] for i in inodes if i in table]
    return held


def is_loopback_address(address: str) -> bool:
    """Whether "host:port" is bound to a loopback address (an IPv4-mapped IPv6 one included)."""
    host = ipaddress.ip_address(address.rsplit(":", 1)[0])
    mapped = getattr(host, "ipv4_mapped", None)
    return bool((mapped or host).is_loopback)


@pytest.fixture(scope="session")
def listening() -> Callable[[Iterable[int]], dict[int, list[str]]]:
    """`listening(pids)`: pid -> the addresses its listening sockets are bound to."""
    return listening_addresses


@pytest.fixture(scope="session")
def exposed() -> Callable[[dict[int, list[str]]], dict[int, list[str]]]:
    """`exposed(held)`: the part of a `listening(...)` answer bound to something other than loopback."""
    def beyond_loopback(held: dict[int, list[str]]) -> dict[int, list[str]]:
        return {pid: [a for a in found if not is_loopback_address(a)] for pid, found in held.items()
                if not all(is_loopback_address(a) for a in found)}
    return beyond_loopback


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Fail the run if anything created `~/.ray`: every Ray the project starts must use its own token
    (on a fresh machine there is no `~/.ray`, and CI runs with a throwaway HOME to prove it)."""
    if not _HOME_RAY_EXISTED and _HOME_RAY.exists():
        created = sorted(str(p) for p in _HOME_RAY.rglob("*"))
        print(f"\nFAILED: the tests wrote to {_HOME_RAY} ({created}); Ray must use the project's own token")
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


# Tiny random teachers of every supported family, as their Hugging Face folders would be published, with
# SentencePiece models trained on a few thousand lines of the shared corpus (recipes checked in
# ../shared/research/tiny-teachers.md). Built once per session, on first use.
TINY_FAMILIES = ("marian_separate", "t5", "mbart50", "nllb", "m2m100")
_TINY_LAYERS = {"d_model": 32, "encoder_layers": 1, "decoder_layers": 1, "encoder_attention_heads": 2,
                "decoder_attention_heads": 2, "encoder_ffn_dim": 64, "decoder_ffn_dim": 64,
                "max_position_embeddings": 128}


def _train_spm(lines: list[str], prefix: Path, **ids: int) -> Path:
    import sentencepiece as spm

    corpus = prefix.with_suffix(".txt")
    corpus.write_text("\n".join(lines) + "\n", encoding="utf-8")
    spm.SentencePieceTrainer.train(input=str(corpus), model_prefix=str(prefix), vocab_size=400, model_type="bpe",
                                   minloglevel=2, **ids)
    return prefix.with_suffix(".model")


def _tiny_marian_separate(root: Path, es: list[str], en: list[str]) -> Path:
    import json
    import shutil

    import sentencepiece as spm
    from transformers import MarianConfig, MarianMTModel

    folder = root / "marian_separate"
    folder.mkdir()
    vocabs = []
    for name, lines in (("source", es), ("target", en)):
        model = _train_spm(lines, root / f"m-{name}", eos_id=0, unk_id=1, bos_id=-1, pad_id=-1)
        shutil.copyfile(model, folder / f"{name}.spm")
        proc = spm.SentencePieceProcessor(model_file=str(model))
        vocab = {proc.id_to_piece(i): i for i in range(proc.get_piece_size())}
        vocab["<pad>"] = len(vocab)
        vocabs.append(vocab)
    (folder / "vocab.json").write_text(json.dumps(vocabs[0]), encoding="utf-8")
    (folder / "target_vocab.json").write_text(json.dumps(vocabs[1]), encoding="utf-8")
    (folder / "tokenizer_config.json").write_text(json.dumps({"separate_vocabs": True,
                                                              "tokenizer_class": "MarianTokenizer"}))
    pad = vocabs[1]["<pad>"]
    config = MarianConfig(vocab_size=len(vocabs[0]), decoder_vocab_size=len(vocabs[1]),
                          share_encoder_decoder_embeddings=False, tie_word_embeddings=False, pad_token_id=pad,
                          eos_token_id=0, decoder_start_token_id=pad, forced_eos_token_id=0, **_TINY_LAYERS)
    MarianMTModel(config).save_pretrained(folder)
    return folder


def _tiny_t5(root: Path, lines: list[str]) -> Path:
    import shutil

    from transformers import T5Config, T5ForConditionalGeneration, T5Tokenizer

    folder = root / "t5"
    folder.mkdir()
    model = _train_spm(lines, root / "t5", pad_id=0, eos_id=1, unk_id=2, bos_id=-1)
    shutil.copyfile(model, folder / "spiece.model")
    tok = T5Tokenizer.from_pretrained(folder, extra_ids=0)
    config = T5Config(vocab_size=len(tok), d_model=32, d_ff=64, d_kv=8, num_layers=1, num_decoder_layers=1,
                      num_heads=2, pad_token_id=tok.pad_token_id, eos_token_id=tok.eos_token_id,
                      decoder_start_token_id=tok.pad_token_id)
    T5ForConditionalGeneration(config).save_pretrained(folder)
    tok.save_pretrained(folder)
    return folder


def _tiny_coded(root: Path, lines: list[str], name: str) -> Path:
    """mBART-50, NLLB or M2M100: language codes start source and target, the target's is forced."""
    import json
    import shutil

    import sentencepiece as spm
    from transformers import (
        M2M100Config,
        M2M100ForConditionalGeneration,
        M2M100Tokenizer,
        MBart50Tokenizer,
        MBartConfig,
        MBartForConditionalGeneration,
        NllbTokenizer,
    )

    folder = root / name
    folder.mkdir()
    fairseq_ids = {"bos_id": 0, "pad_id": 1, "eos_id": 2, "unk_id": 3} if name == "nllb" else {}
    model = _train_spm(lines, root / name, **fairseq_ids)
    shutil.copyfile(model, folder / "sentencepiece.bpe.model")
    if name == "mbart50":
        tok = MBart50Tokenizer.from_pretrained(folder, src_lang="es_XX", tgt_lang="en_XX")
        config_class, model_class, target = MBartConfig, MBartForConditionalGeneration, "en_XX"
        size = len(tok)
    elif name == "nllb":
        tok = NllbTokenizer.from_pretrained(folder, src_lang="spa_Latn", tgt_lang="eng_Latn",
                                            additional_special_tokens=["spa_Latn", "eng_Latn"])
        config_class, model_class, target = M2M100Config, M2M100ForConditionalGeneration, "eng_Latn"
        size = len(tok)
    else:
        proc = spm.SentencePieceProcessor(model_file=str(model))
        vocab = {"<s>": 0, "<pad>": 1, "</s>": 2, "<unk>": 3}
        for i in range(proc.get_piece_size()):
            vocab.setdefault(proc.id_to_piece(i), len(vocab))
        (folder / "vocab.json").write_text(json.dumps(vocab, ensure_ascii=False), encoding="utf-8")
        tok = M2M100Tokenizer(vocab_file=str(folder / "vocab.json"), spm_file=str(folder / "sentencepiece.bpe.model"),
                              src_lang="es", tgt_lang="en")
        config_class, model_class, target = M2M100Config, M2M100ForConditionalGeneration, "__en__"
        size = max(tok.lang_token_to_id.values()) + 1 + tok.num_madeup_words
    config = config_class(vocab_size=size, pad_token_id=tok.pad_token_id, bos_token_id=tok.bos_token_id or 0,
                          eos_token_id=tok.eos_token_id, decoder_start_token_id=tok.eos_token_id, **_TINY_LAYERS)
    model_obj = model_class(config)
    model_obj.generation_config.forced_bos_token_id = tok.convert_tokens_to_ids(target)
    model_obj.save_pretrained(folder)
    tok.save_pretrained(folder)
    return folder


@pytest.fixture(scope="session")
def tiny_teachers(tmp_path_factory: pytest.TempPathFactory, bible_dir: Path) -> dict[str, Path]:
    """name -> folder of a tiny random teacher of each family (`TINY_FAMILIES`), es -> en."""
    import torch

    rows = [line.split("\t") for line in (bible_dir / "train.tsv").read_text(encoding="utf-8").splitlines()[1:3001]]
    es, en = [r[1] for r in rows], [r[2] for r in rows]
    root = tmp_path_factory.mktemp("tiny-teachers")
    torch.manual_seed(0)
    return {"marian_separate": _tiny_marian_separate(root, es, en), "t5": _tiny_t5(root, es + en),
            **{name: _tiny_coded(root, es + en, name) for name in ("mbart50", "nllb", "m2m100")}}
