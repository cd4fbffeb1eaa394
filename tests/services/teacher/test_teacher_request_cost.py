"""An oversized request is refused from the sizes its message declares, before the server converts anything:
it costs the teacher about the message it sent, not the int64 arrays it would have expanded into."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import numpy as np
import pytest

from kdproto import teacher_pb2 as pb
from kdproto import teacher_pb2_grpc as pb_grpc
from kdproto import tensors
from services.teacher.launch import TeacherProcess
from services.teacher.server import grpc_options

SRC, TGT = [22, 6809, 10, 0], [31, 47, 5, 0]
MESSAGE_MB = 64


def _peak_rss_mb(pid: int) -> float:
    """The process's peak resident memory (VmHWM) in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmHWM in /proc status")


@pytest.fixture(scope="module")
def teacher_process(micro_checkpoint: Path) -> Iterator[tuple[TeacherProcess, Any]]:
    """A teacher server process of its own (so that its peak memory is the server's alone), with a stub."""
    proc = TeacherProcess(micro_checkpoint, ["--threads", "1", "--device", "cpu",
                                             "--max-message-mb", str(MESSAGE_MB)]).start()
    channel = grpc.insecure_channel(proc.target, options=grpc_options(MESSAGE_MB * 1024 * 1024))
    try:
        yield proc, pb_grpc.TeacherStub(channel)
    finally:
        channel.close()
        proc.stop(signal.SIGKILL)


def _candidates(rows: int, width: int) -> pb.Tensor:
    """[rows, width] uint16 candidate ids (all valid), as a client would pack them."""
    return pb.Tensor(dtype=pb.DTYPE_UINT16, shape=[rows, width], data=np.full(rows * width, 7, "<u2").tobytes())


def test_an_oversized_score_request_is_refused_for_the_price_of_its_message(
        teacher_process: tuple[TeacherProcess, Any]) -> None:
    proc, stub = teacher_process
    item = pb.ScoreItem(source=tensors.pack_ids(np.array(SRC)), target=tensors.pack_ids(np.array(TGT)),
                        candidates=_candidates(4, 64))
    stub.Score(pb.ScoreRequest(items=[item]), timeout=60)  # warm: the model and the gRPC buffers are in memory
    assert proc.proc is not None
    before = _peak_rss_mb(proc.proc.pid)
    width = 6_000_000  # 4 positions x 6 M candidates: 48 MB of uint16 ids, 192 MB as int64
    item = pb.ScoreItem(source=tensors.pack_ids(np.array(SRC)), target=tensors.pack_ids(np.array(TGT)),
                        candidates=_candidates(4, width))
    message_mb = item.ByteSize() / 2**20
    with pytest.raises(grpc.RpcError) as caught:
        stub.Score(pb.ScoreRequest(items=[item]), timeout=60)
    grew = _peak_rss_mb(proc.proc.pid) - before
    assert caught.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert "over this teacher's budget of 8192" in caught.value.details()
    # Receiving and parsing the message costs about 3x its size (gRPC's limit bounds that); converting the
    # candidates to int64 and range-checking them cost about 4x more (7x in all before the early check).
    assert grew < 4.5 * message_mb, f"peak memory grew {grew:.0f} MiB for a {message_mb:.0f} MiB request"
    ok = stub.TopK(pb.TopKRequest(sentences=[pb.SentencePair(source=tensors.pack_ids(np.array(SRC)),
                                                              target=tensors.pack_ids(np.array(TGT)))], k=4),
                   timeout=60)
    assert len(ok.rows) == 1  # still serving


def test_requests_are_priced_from_declared_sizes(teacher_process: tuple[TeacherProcess, Any]) -> None:
    """Many empty sentences, a shape declaring more positions than the target, and texts too long for the
    budget are refused as over budget, from their sizes."""
    _, stub = teacher_process
    empty = pb.SentencePair(source=pb.Tensor(dtype=pb.DTYPE_UINT16, shape=[0]),
                            target=pb.Tensor(dtype=pb.DTYPE_UINT16, shape=[0]))
    wide = pb.ScoreItem(source=tensors.pack_ids(np.array(SRC)), target=tensors.pack_ids(np.array(TGT)),
                        candidates=_candidates(9000, 1))
    requests = [("TopK", pb.TopKRequest(sentences=[empty] * 5000, k=4)),
                ("Score", pb.ScoreRequest(items=[wide])),
                ("Generate", pb.GenerateRequest(source_texts=["palabra " * 500] * 20, beam_size=4, nbest=1,
                                                max_len=20))]
    for method, request in requests:
        with pytest.raises(grpc.RpcError) as caught:
            getattr(stub, method)(request, timeout=60)
        assert caught.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED, method
        assert "over this teacher's budget" in caught.value.details(), method
