"""Fixtures for the client tests: real in-process teacher servers on free loopback ports."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from s2s.checkpoint import Manifest, save_checkpoint
from s2s.presets import build_model, count_parameters
from s2s.tokenizer import Tokenizer
from services.teacher.config import ServerConfig
from services.teacher.server import TeacherServer

SPANISH = ["En el principio crió Dios los cielos y la tierra.", "Y dijo Dios: Sea la luz: y fué la luz.",
           "Y vió Dios que la luz era buena: y apartó Dios la luz de las tinieblas.",
           "Y llamó Dios á la luz Día, y á las tinieblas llamó Noche.", "Y fué la tarde y la mañana un día."]
ENGLISH = ["In the beginning God created the heaven and the earth.", "And God said, Let there be light.",
           "And God saw the light, that it was good: and God divided the light from the darkness.",
           "And God called the light Day, and the darkness he called Night.",
           "And the evening and the morning were the first day."]


@pytest.fixture(scope="session")
def pairs(tokenizer: Tokenizer) -> tuple[list[list[int]], list[list[int]]]:
    return [tokenizer.encode_source(s) for s in SPANISH], [tokenizer.encode_target(t) for t in ENGLISH]


def _serve(model_dir: Path) -> TeacherServer:
    # A small token budget, so that the client has to split ordinary batches into several requests.
    server = TeacherServer(ServerConfig(model=model_dir, host="127.0.0.1", port=0, device="cpu", threads=2,
                                        max_batch_tokens=128, max_k=16, drain_s=2.0))
    server.start()
    return server


@pytest.fixture(scope="module")
def teacher(micro_checkpoint: Path) -> Iterator[TeacherServer]:
    server = _serve(micro_checkpoint)
    yield server
    server.stop(2.0)


@pytest.fixture(scope="module")
def other_vocab_teacher(tmp_path_factory: pytest.TempPathFactory, tokenizer: Tokenizer) -> Iterator[TeacherServer]:
    """A teacher whose vocabulary differs (two pieces swapped), as a wrongly deployed replica would."""
    folder = tmp_path_factory.mktemp("other-vocab")
    for name in ("source.spm", "target.spm"):
        shutil.copyfile(tokenizer.folder / name, folder / name)
    vocab = dict(tokenizer.vocab)
    first, second = (p for p, i in vocab.items() if i in (5, 6))
    vocab[first], vocab[second] = vocab[second], vocab[first]
    (folder / "vocab.json").write_text(json.dumps(vocab, ensure_ascii=False), encoding="utf-8")
    other = Tokenizer(folder)
    model = build_model("test-micro", other, seed=2)
    ckpt = save_checkpoint(model, other, folder / "ckpt", Manifest("other", other.fingerprint,
                                                                   count_parameters(model)))
    server = _serve(ckpt)
    yield server
    server.stop(2.0)
