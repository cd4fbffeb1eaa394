"""A teacher that answers NaN (a model whose weights went NaN) is an error at the client, never a loss input;
the in-process teacher refuses the same answers."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from safetensors.torch import load_file, save_file

from s2s.local_teacher import InProcessTeacher
from s2s.teacher.answers import TeacherAnswerError
from services.teacher.config import ServerConfig
from services.teacher.server import TeacherServer
from teacher_client import TeacherClient, TeacherError


@pytest.fixture(scope="module")
def nan_checkpoint(micro_checkpoint: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The micro checkpoint with one NaN in its output bias: every log q it computes is NaN."""
    folder = tmp_path_factory.mktemp("nan-teacher") / "micro"
    shutil.copytree(micro_checkpoint, folder)
    weights = load_file(str(folder / "model.safetensors"))
    name = next(n for n in weights if "final_logits_bias" in n)
    weights[name] = weights[name].clone()
    weights[name].view(-1)[7] = torch.nan
    save_file(weights, str(folder / "model.safetensors"), metadata={"format": "pt"})
    return folder


@pytest.fixture(scope="module")
def nan_teacher(nan_checkpoint: Path) -> Iterator[TeacherServer]:
    server = TeacherServer(ServerConfig(model=nan_checkpoint, host="127.0.0.1", port=0, device="cpu", threads=1,
                                        drain_s=1.0))
    server.start()
    yield server
    server.stop(2.0)


def test_a_live_nan_answer_is_an_error_for_topk_and_score(nan_teacher: TeacherServer, pairs: Any) -> None:
    src, tgt = pairs
    cands = [np.tile(np.arange(5, 9), (len(t), 1)) for t in tgt[:2]]
    with TeacherClient(f"127.0.0.1:{nan_teacher.port}", timeout_s=30, retry_budget_s=1) as client:
        with pytest.raises(TeacherAnswerError, match=r"answered Score with an invalid value for sentence 0: "
                                                     r"log q is NaN; not training on it"):
            client.score(src[:2], tgt[:2], cands)
        with pytest.raises(TeacherError, match="computed an invalid top-k answer"):  # the server refuses to send it
            client.topk(src[:2], tgt[:2], 4)
        assert client.stats()["errors"] == 2
        assert client.info().model_id == "micro"  # the server kept serving


def test_the_in_process_teacher_refuses_nan_answers(nan_checkpoint: Path, pairs: Any) -> None:
    src, tgt = pairs
    with InProcessTeacher(nan_checkpoint, device="cpu") as teacher:
        with pytest.raises(TeacherAnswerError, match="TopK with an invalid value for sentence 0: log q is NaN"):
            teacher.topk(src[:1], tgt[:1], 4)
        with pytest.raises(TeacherAnswerError, match="answered Score"):
            teacher.score(src[:1], tgt[:1], [np.tile(np.arange(5, 9), (len(tgt[0]), 1))])
