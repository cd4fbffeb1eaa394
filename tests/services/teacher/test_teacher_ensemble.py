"""An ensemble teacher over real gRPC and Redis: two tiny models of one vocabulary served as one."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import redis
import torch

from s2s.checkpoint import load_checkpoint
from s2s.errors import VocabularyMismatchError
from services.teacher.config import ServerConfig
from services.teacher.launch import CLI_ENTRY, RedisProcess, TeacherProcess
from services.teacher.server import TeacherServer
from teacher_client import TeacherClient

FP16_ATOL = 1e-2  # float16 on the wire: |log q| < 16 keeps the rounding error below 0.008
WEIGHTS = (0.6, 0.4)


@pytest.fixture(scope="module")
def members(micro_checkpoint: Path, micro_checkpoint_b: Path) -> list[Any]:
    """The two members' PyTorch models, loaded apart from any server (the reference)."""
    return [load_checkpoint(micro_checkpoint).model, load_checkpoint(micro_checkpoint_b).model]


@pytest.fixture(scope="module")
def ensemble(teacher_factory: Callable[..., TeacherServer], micro_checkpoint: Path, micro_checkpoint_b: Path,
             redis_server: RedisProcess) -> TeacherServer:
    return teacher_factory((micro_checkpoint, micro_checkpoint_b), weights="0.6,0.4", redis_url=redis_server.url)


@pytest.fixture()
def client(ensemble: TeacherServer) -> Iterator[TeacherClient]:
    with TeacherClient(f"127.0.0.1:{ensemble.port}", timeout_s=60) as c:
        yield c


def _mixture(models: list[Any], src: list[int], tgt: list[int], log_softmax: Callable[..., np.ndarray],
             pad: int) -> np.ndarray:
    """log(0.6 q_a + 0.4 q_b) at every target position, from each member's own forward pass."""
    return np.logaddexp(*[np.log(w) + log_softmax(m, src, tgt, pad) for m, w in zip(models, WEIGHTS, strict=True)])


def test_topk_and_score_are_the_weighted_mean_of_the_members(client: TeacherClient, members: list[Any],
                                                             sentences: Any,
                                                             full_log_softmax: Callable[..., np.ndarray]) -> None:
    src, tgt = sentences[0][:6], sentences[1][:6]
    pad = client.info().pad_id
    topk = client.topk(src, tgt, 8)
    cands = [np.stack([np.array(t), np.roll(t, 1), np.full(len(t), 5)], axis=1) for t in tgt]
    scores = client.score(src, tgt, cands)
    for s, t, top, cand, got in zip(src, tgt, topk, cands, scores, strict=True):
        ref = _mixture(members, s, t, full_log_softmax, pad)
        np.testing.assert_allclose(top.logq, -np.sort(-ref, axis=-1)[:, :8], atol=FP16_ATOL)
        np.testing.assert_allclose(top.logq, np.take_along_axis(ref, top.ids, axis=-1), atol=FP16_ATOL)
        rest = np.log1p(-np.exp(np.take_along_axis(ref, top.ids, axis=-1)).sum(-1))
        np.testing.assert_allclose(top.rest_logmass, rest, rtol=1e-3, atol=1e-3)
        np.testing.assert_allclose(got, np.take_along_axis(ref, cand, axis=-1), atol=FP16_ATOL)


@torch.inference_mode()
def test_generate_at_beam_1_is_greedy_decoding_of_the_averaged_model(client: TeacherClient, members: list[Any],
                                                                     sentences: Any) -> None:
    info, max_len = client.info(), 8
    src = sentences[0][:4]
    found = client.generate(src, beam_size=1, nbest=1, max_len=max_len)
    for s, (hyp,) in zip(src, found, strict=True):
        out: list[int] = []
        while len(out) < max_len and (not out or out[-1] != info.eos_id):
            probs = sum(w * torch.softmax(m(input_ids=torch.tensor([s]),
                                            decoder_input_ids=torch.tensor([[info.pad_id, *out]])).logits[0, -1], -1)
                        for m, w in zip(members, WEIGHTS, strict=True))
            out.append(info.eos_id if len(out) == max_len - 1 else int(torch.as_tensor(probs).argmax()))
        assert hyp.ids == out
    beams = client.generate(src[:2], beam_size=3, nbest=3, max_len=max_len)  # the ensemble's beam search
    assert [len(n) for n in beams] == [3, 3]
    assert all([h.score for h in n] == sorted((h.score for h in n), reverse=True) for n in beams)


def test_info_lists_the_members_and_the_cache_never_mixes_them(
        client: TeacherClient, ensemble: TeacherServer, teacher_factory: Callable[..., TeacherServer],
        micro_checkpoint: Path, micro_checkpoint_b: Path, redis_server: RedisProcess, sentences: Any) -> None:
    info = client.info()
    assert info.model_id == "micro+micro-b"
    assert [(m.model_id, m.weight) for m in info.members] == [("micro", 0.6), ("micro-b", 0.4)]
    single = teacher_factory(micro_checkpoint, redis_url=redis_server.url)
    reweighted = teacher_factory((micro_checkpoint, micro_checkpoint_b), weights="1,1", redis_url=redis_server.url)
    ids = {s.engine.info().teacher_id for s in (ensemble, single, reweighted)}
    assert len(ids) == 3 and info.members[0].teacher_id == single.engine.info().teacher_id
    src, tgt = sentences[0][6:9], sentences[1][6:9]
    with TeacherClient(f"127.0.0.1:{single.port}", timeout_s=60) as alone:
        alone.topk(src, tgt, 4)  # the member's answers are in Redis now
    before = client.stats()["cache_misses"]
    client.topk(src, tgt, 4)
    assert client.stats()["cache_misses"] - before == len(src)  # ...and the ensemble reads none of them
    keys = [k.decode() for k in redis.Redis(port=redis_server.port).keys("kd:v1:*:topk:k4:*")]
    for server in (ensemble, single):
        assert sum(k.startswith(f"kd:v1:{server.engine.info().teacher_id}:") for k in keys) == len(src)


def test_ctranslate2_engine_answers_the_ensemble_alike(client: TeacherClient,
                                                       teacher_factory: Callable[..., TeacherServer],
                                                       micro_checkpoint: Path, micro_checkpoint_b: Path,
                                                       sentences: Any) -> None:
    ct2 = teacher_factory((micro_checkpoint, micro_checkpoint_b), weights="0.6,0.4", engine="ctranslate2")
    src, tgt = sentences[0][:4], sentences[1][:4]
    with TeacherClient(f"127.0.0.1:{ct2.port}", timeout_s=60) as other:
        assert ct2.engine.info().engine == "ctranslate2-float32"
        for a, b in zip(other.topk(src, tgt, 4), client.topk(src, tgt, 4), strict=True):
            np.testing.assert_array_equal(a.ids, b.ids)
            np.testing.assert_allclose(a.logq, b.logq, atol=FP16_ATOL)


def test_members_with_different_vocabularies_are_refused_naming_both(micro_checkpoint: Path,
                                                                     tiny_teachers: dict[str, Path]) -> None:
    other = tiny_teachers["marian_separate"]
    with pytest.raises(VocabularyMismatchError, match="share one vocabulary") as caught:
        TeacherServer(ServerConfig(model=(micro_checkpoint, other), port=0, device="cpu"))
    assert str(micro_checkpoint) in str(caught.value) and str(other) in str(caught.value)


def test_kd_teacher_serve_takes_several_models(micro_checkpoint: Path, micro_checkpoint_b: Path) -> None:
    """The command line: `kd teacher serve --model A --model B --weights ...` serves the ensemble."""
    server = TeacherProcess(micro_checkpoint, ["--model", str(micro_checkpoint_b), "--weights", "3,1",
                                               "--device", "cpu", "--threads", "1"], entry=CLI_ENTRY).start()
    try:
        with TeacherClient(server.target, timeout_s=60) as client:
            info = client.info()
        assert info.model_id == "micro+micro-b" and [m.weight for m in info.members] == [0.75, 0.25]
    finally:
        server.stop()
