"""A real teacher server answers TopK / Score / Generate exactly like the model computed directly."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import torch
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import ProtoReflectionDescriptorDatabase

from kdproto import teacher_pb2 as pb
from kdproto import tensors
from s2s.teacher import compute
from s2s.tokenizer import Tokenizer
from services.teacher.healthcheck import check
from services.teacher.server import TeacherServer
from teacher_client import TeacherClient, TeacherInputError

FP16_ATOL = 1e-2  # float16 on the wire: |log q| < 16 keeps the rounding error below 0.008


@pytest.fixture()
def client(teacher: TeacherServer) -> Any:
    with TeacherClient(f"127.0.0.1:{teacher.port}", timeout_s=30) as c:
        yield c


def _rest_from_reference(ref: np.ndarray, ids: np.ndarray) -> np.ndarray:
    rest = ref.copy()
    np.put_along_axis(rest, ids, -np.inf, axis=-1)
    return np.logaddexp.reduce(rest.astype(np.float64), axis=-1)


def test_info_describes_the_served_model(client: TeacherClient, tokenizer: Tokenizer, teacher: TeacherServer) -> None:
    info = client.info()
    assert (info.model_id, info.vocab_size, info.vocab_fingerprint) == ("micro", tokenizer.vocab_size,
                                                                       tokenizer.fingerprint)
    assert (info.pad_id, info.eos_id) == (tokenizer.pad_id, tokenizer.eos_id)
    assert info.max_source_len == info.max_target_len == teacher.checkpoint.model.config.max_position_embeddings
    assert info.max_batch_tokens == teacher.config.max_batch_tokens


def test_topk_equals_a_direct_forward_pass(client: TeacherClient, teacher: TeacherServer, sentences: Any,
                                           full_log_softmax: Callable[..., np.ndarray]) -> None:
    src, tgt = sentences
    k = 8
    results = client.topk(src, tgt, k)
    assert len(results) == len(src)
    for s, t, r in zip(src, tgt, results, strict=True):
        ref = full_log_softmax(teacher.checkpoint.model, s, t, client.info().pad_id)
        assert r.ids.shape == r.logq.shape == (len(t), k) and r.rest_logmass.shape == (len(t),)
        assert r.ids.dtype == np.int64 and r.logq.dtype == np.float32
        expected_top = -np.sort(-ref, axis=-1)[:, :k]
        np.testing.assert_allclose(r.logq, expected_top, atol=FP16_ATOL)
        np.testing.assert_allclose(r.logq, np.take_along_axis(ref, r.ids, axis=-1), atol=FP16_ATOL)
        np.testing.assert_allclose(r.rest_logmass, _rest_from_reference(ref, r.ids), rtol=1e-3, atol=1e-4)
        total = np.exp(r.logq.astype(np.float64)).sum(-1) + np.exp(r.rest_logmass.astype(np.float64))
        np.testing.assert_allclose(total, 1.0, atol=1e-2)


def test_wire_carries_uint16_ids_and_float16_logprobs_compactly(stub: Any, sentences: Any) -> None:
    src, tgt = sentences
    request = pb.TopKRequest(k=8, sentences=[pb.SentencePair(source=tensors.pack_ids(np.array(s)),
                                                             target=tensors.pack_ids(np.array(t)))
                                             for s, t in zip(src, tgt, strict=True)])
    assert request.sentences[0].source.dtype == pb.DTYPE_UINT16
    response = stub.TopK(request)
    row = response.rows[0]
    assert (row.ids.dtype, row.logq.dtype, row.rest_logmass.dtype) == (pb.DTYPE_UINT16, pb.DTYPE_FLOAT16,
                                                                       pb.DTYPE_FLOAT16)
    positions = sum(len(t) for t in tgt)
    assert len(response.SerializeToString()) / positions <= 64


def test_score_over_the_whole_vocabulary_equals_the_log_softmax(client: TeacherClient, teacher: TeacherServer,
                                                                  sentences: Any,
                                                                  full_log_softmax: Callable[..., np.ndarray]) -> None:
    """Candidates = every id at every position (the client splits this by the Score cost of such widths;
    messages over 4 MiB are tested in test_teacher_lifecycle.py)."""
    src, tgt = sentences
    vocab = client.info().vocab_size
    chosen = list(range(len(src)))
    cands = [np.tile(np.arange(vocab), (len(tgt[i]), 1)) for i in chosen]
    assert sum(c.size for c in cands) * 2 > 4 * 1024 * 1024
    scores = client.score([src[i] for i in chosen], [tgt[i] for i in chosen], cands)
    for i, got in zip(chosen, scores, strict=True):
        ref = full_log_softmax(teacher.checkpoint.model, src[i], tgt[i], client.info().pad_id)
        assert got.shape == ref.shape
        np.testing.assert_allclose(got, ref, atol=FP16_ATOL)


def test_score_of_a_few_candidates_gathers_the_right_ids(client: TeacherClient, teacher: TeacherServer,
                                                         sentences: Any,
                                                         full_log_softmax: Callable[..., np.ndarray]) -> None:
    src, tgt = sentences
    rng = np.random.default_rng(0)
    cands = [rng.integers(0, client.info().vocab_size, size=(len(t), 5)) for t in tgt[:4]]
    for s, t, c, got in zip(src, tgt, cands, client.score(src[:4], tgt[:4], cands), strict=False):
        ref = full_log_softmax(teacher.checkpoint.model, s, t, client.info().pad_id)
        np.testing.assert_allclose(got, np.take_along_axis(ref, c, axis=-1), atol=FP16_ATOL)


def test_generate_equals_transformers_beam_search(client: TeacherClient, teacher: TeacherServer,
                                                  sentences: Any) -> None:
    src = sentences[0][:4]
    served = client.generate(src, beam_size=3, nbest=2, max_len=8)
    model: Any = teacher.checkpoint.model
    pad = client.info().pad_id
    for s, hyps in zip(src, served, strict=True):
        with torch.inference_mode():
            out = model.generate(input_ids=torch.tensor([s]), attention_mask=torch.ones(1, len(s), dtype=torch.long),
                                 num_beams=3, num_return_sequences=2, max_new_tokens=8, do_sample=False,
                                 early_stopping=True, length_penalty=1.0, output_scores=True,
                                 return_dict_in_generate=True)
        expected = [[i for i in seq[1:] if i != pad] for seq in out.sequences.tolist()]
        assert [h.ids for h in hyps] == expected
        np.testing.assert_allclose([h.score for h in hyps], out.sequences_scores.numpy(), atol=1e-4)


def test_concurrent_clients_get_their_own_answers(client: TeacherClient, teacher: TeacherServer, sentences: Any,
                                                  metric: Callable[..., float]) -> None:
    """Eight clients at once (k=3 is asked nowhere else, so every request reaches the batcher)."""
    src, tgt = sentences
    model, pad = teacher.checkpoint.model, client.info().pad_id
    expected = compute.topk(model, [np.array(s) for s in src], [np.array(t) for t in tgt], 3, pad)
    batches_before = metric("kd_teacher_batch_requests_count", op="topk")
    results: dict[int, Any] = {}

    def ask(i: int) -> None:
        results[i] = client.topk([src[i]], [tgt[i]], 3)[0]

    threads = [threading.Thread(target=ask, args=(i,)) for i in range(8)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    for i in range(8):
        np.testing.assert_array_equal(results[i].ids, expected[i].ids)
        np.testing.assert_allclose(results[i].logq, expected[i].logq, atol=FP16_ATOL)
    assert 1 <= metric("kd_teacher_batch_requests_count", op="topk") - batches_before <= 8


def test_health_reports_serving_and_reflection_lists_the_services(teacher: TeacherServer) -> None:
    import grpc

    target = f"127.0.0.1:{teacher.port}"
    assert check(target) == "SERVING"
    assert check(target, "kd.teacher.v1.Teacher") == "SERVING"
    with grpc.insecure_channel(target) as channel:
        services = set(ProtoReflectionDescriptorDatabase(channel).get_services())
    assert {"kd.teacher.v1.Teacher", "grpc.health.v1.Health"} <= services


def test_metrics_count_requests_by_method_and_code(client: TeacherClient, sentences: Any,
                                                   metric: Callable[..., float]) -> None:
    src, tgt = sentences
    ok = metric("kd_teacher_requests_total", method="TopK", code="OK")
    bad = metric("kd_teacher_requests_total", method="TopK", code="INVALID_ARGUMENT")
    timed = metric("kd_teacher_request_seconds_count", method="TopK")
    tokens = metric("kd_teacher_request_tokens_total", op="topk")
    client.topk(src[:2], tgt[:2], 2)
    with pytest.raises(TeacherInputError):
        client.topk(src[:1], tgt[:1], 0)
    assert metric("kd_teacher_requests_total", method="TopK", code="OK") == ok + 1
    assert metric("kd_teacher_requests_total", method="TopK", code="INVALID_ARGUMENT") == bad + 1
    assert metric("kd_teacher_request_seconds_count", method="TopK") == timed + 2
    assert metric("kd_teacher_request_tokens_total", op="topk") == tokens + sum(map(len, src[:2] + tgt[:2]))
    assert metric("kd_teacher_inflight_requests") == 0


def test_generate_through_ctranslate2_agrees_with_pytorch(teacher_factory: Callable[..., TeacherServer],
                                                          reference_teacher_dir: Any, sentences: Any) -> None:
    """The CTranslate2 Generate engine (float32 export here) gives PyTorch's greedy output exactly, and beam
    n-best lists shaped as PyTorch's: at most max_len ids, ending in </s>, best first."""
    src = sentences[0][:6]
    torch_teacher = teacher_factory(reference_teacher_dir)
    ct2_teacher = teacher_factory(reference_teacher_dir, generate_engine="ctranslate2",
                                  generate_quantization="float32")
    with TeacherClient(f"127.0.0.1:{torch_teacher.port}") as pt, \
            TeacherClient(f"127.0.0.1:{ct2_teacher.port}") as ct:
        assert [h[0].ids for h in ct.generate(src, 1, 1, 24)] == [h[0].ids for h in pt.generate(src, 1, 1, 24)]
        beams = ct.generate(src, beam_size=4, nbest=3, max_len=24)
        eos = ct.info().eos_id
    for hyps in beams:
        assert len(hyps) == 3 and all(h.ids[-1] == eos and len(h.ids) <= 24 for h in hyps)
        assert [h.score for h in hyps] == sorted((h.score for h in hyps), reverse=True)
