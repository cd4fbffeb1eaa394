"""Every kind of bad request gets its status code and a message saying what was wrong; the server stays up."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import grpc
import numpy as np
import pytest

from kdproto import teacher_pb2 as pb
from kdproto import tensors

INVALID, EXHAUSTED = grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.RESOURCE_EXHAUSTED
SRC, TGT = [22, 6809, 10, 0], [31, 47, 5, 0]
UNKNOWN_DTYPE = pb.Tensor(dtype=42, shape=[1], data=b"\x00\x00")  # type: ignore[arg-type]


def ids(values: list[int] | np.ndarray) -> pb.Tensor:
    return tensors.pack_ids(np.asarray(values))


def pair(src: Any = SRC, tgt: Any = TGT) -> pb.SentencePair:
    return pb.SentencePair(source=src if isinstance(src, pb.Tensor) else ids(src),
                           target=tgt if isinstance(tgt, pb.Tensor) else ids(tgt))


def topk(*pairs: pb.SentencePair, k: int = 4) -> tuple[str, Any]:
    return "TopK", pb.TopKRequest(sentences=list(pairs), k=k)


def score(cands: pb.Tensor | None, src: Any = SRC, tgt: Any = TGT) -> tuple[str, Any]:
    item = pb.ScoreItem(source=ids(src), target=ids(tgt))
    if cands is not None:
        item.candidates.CopyFrom(cands)
    return "Score", pb.ScoreRequest(items=[item])


def generate(sources: list[pb.Tensor], beam: int = 2, nbest: int = 1, max_len: int = 5) -> tuple[str, Any]:
    return "Generate", pb.GenerateRequest(sources=sources, beam_size=beam, nbest=nbest, max_len=max_len)


CASES: dict[str, tuple[Callable[[], tuple[str, Any]], grpc.StatusCode, str]] = {
    "empty batch": (lambda: topk(), INVALID, "empty batch"),
    "target id beyond the vocabulary": (lambda: topk(pair(tgt=[5, 8001, 0])), INVALID, "id 8001 at position 1"),
    "negative source id": (lambda: topk(pair(src=[5, -3, 0])), INVALID, "id -3"),
    "k = 0": (lambda: topk(pair(), k=0), INVALID, "k = 0"),
    "k above max_k": (lambda: topk(pair(), k=65), INVALID, "1 <= k <= 64"),
    "missing target": (lambda: ("TopK", pb.TopKRequest(sentences=[pb.SentencePair(source=ids(SRC))], k=4)),
                       INVALID, "sentence 0: target is missing"),
    "shape does not match the bytes": (
        lambda: topk(pair(src=pb.Tensor(dtype=pb.DTYPE_UINT16, shape=[5], data=b"\x01\x00" * 3))),
        INVALID, "needs 10 bytes, got 6"),
    "float ids": (lambda: topk(pair(src=tensors.pack(np.array([1.0, 0.0], dtype=np.float32)))),
                  INVALID, "DTYPE_FLOAT32 is not allowed"),
    "unknown dtype": (lambda: topk(pair(src=UNKNOWN_DTYPE)), INVALID, "#42 (unknown)"),
    "2-D source": (lambda: topk(pair(src=np.array([[1, 0], [2, 0]]))), INVALID, "expected a 1-D tensor"),
    "empty target": (lambda: topk(pair(tgt=np.zeros(0, dtype=np.int64))), INVALID, "target is empty"),
    "source too long": (lambda: topk(pair(src=[5] * 128 + [0])), INVALID, "129 tokens"),
    "too many tokens in one request": (lambda: topk(*[pair(src=[5] * 63 + [0], tgt=[6] * 63 + [0])] * 70),
                                       EXHAUSTED, "over this teacher's budget of 8192"),
    "candidates for the wrong number of positions": (lambda: score(ids(np.zeros((5, 3), dtype=np.int64))),
                                                     INVALID, "expected [4 target positions"),
    "missing candidates": (lambda: score(None), INVALID, "candidates is missing"),
    "1-D candidates": (lambda: score(ids([1, 2, 3, 4])), INVALID, "expected a 2-D tensor"),
    "candidate id beyond the vocabulary": (lambda: score(ids(np.full((4, 2), 9000))), INVALID, "id 9000"),
    "nbest above beam": (lambda: generate([ids(SRC)], beam=2, nbest=3), INVALID, "nbest = 3"),
    "beam 0": (lambda: generate([ids(SRC)], beam=0), INVALID, "beam_size = 0"),
    "max_len too long": (lambda: generate([ids(SRC)], max_len=1000), INVALID, "max_len = 1000"),
    "empty generate batch": (lambda: generate([]), INVALID, "empty batch"),
    "generate id beyond the vocabulary": (lambda: generate([ids([70000, 0])]), INVALID, "id 70000"),
}


def _good_request_still_works(stub: Any) -> None:
    reply = stub.TopK(pb.TopKRequest(sentences=[pair()], k=4), timeout=30)
    assert tensors.unpack_ids(reply.rows[0].ids, "ids", 2).shape == (len(TGT), 4)


@pytest.mark.parametrize("case", list(CASES))
def test_bad_request_gets_a_clear_status_and_the_server_keeps_serving(stub: Any, case: str) -> None:
    build, code, fragment = CASES[case]
    method, request = build()
    with pytest.raises(grpc.RpcError) as caught:
        getattr(stub, method)(request, timeout=30)
    assert caught.value.code() == code
    assert fragment in caught.value.details()
    _good_request_still_works(stub)


def test_an_expired_deadline_is_reported_and_harmless(stub: Any) -> None:
    request = pb.GenerateRequest(sources=[ids(SRC)] * 2, beam_size=2, nbest=1, max_len=30)
    with pytest.raises(grpc.RpcError) as caught:
        stub.Generate(request, timeout=0.001)
    assert caught.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    _good_request_still_works(stub)


def test_bad_requests_do_not_disturb_concurrent_good_ones(stub: Any) -> None:
    expected = stub.TopK(pb.TopKRequest(sentences=[pair()], k=4), timeout=30)
    outcomes: list[Any] = []

    def good() -> None:
        outcomes.append(stub.TopK(pb.TopKRequest(sentences=[pair()], k=4), timeout=30).rows[0])

    def bad() -> None:
        try:
            stub.TopK(pb.TopKRequest(sentences=[pair(tgt=[9999, 0])], k=4), timeout=30)
        except grpc.RpcError as exc:
            outcomes.append(exc.code())

    threads = [threading.Thread(target=f) for f in (good, bad) * 4]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert outcomes.count(INVALID) == 4
    assert [o for o in outcomes if o != INVALID] == [expected.rows[0]] * 4
