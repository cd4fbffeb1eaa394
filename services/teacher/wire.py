"""The only server module that touches protobuf types: requests to numpy, engine replies to responses.

Handlers pass request messages through `*_args` and engine replies through `*_response` without looking
inside. Malformed tensors raise `kdproto.tensors.TensorError` naming the sentence and field.
"""

from __future__ import annotations

from typing import Any

import grpc
import numpy as np

from kdproto import teacher_pb2 as pb
from kdproto import teacher_pb2_grpc as pb_grpc
from kdproto import tensors
from s2s.decoding import Hypothesis
from s2s.teacher.contract import SampledResult, TopKResult
from services.teacher.engine import Reply, ServerInfo

SERVICE_NAME: str = pb.DESCRIPTOR.services_by_name["Teacher"].full_name


def register(server: grpc.Server, handlers: Any) -> None:
    """Serve `handlers` (an object with Info/TopK/Score/Generate methods) as `kd.teacher.v1.Teacher`."""
    pb_grpc.add_TeacherServicer_to_server(handlers, server)


def info_response(info: ServerInfo) -> pb.InfoResponse:
    t = info.teacher
    return pb.InfoResponse(
        model_id=t.model_id, vocab_size=t.vocab_size, vocab_fingerprint=t.vocab_fingerprint, pad_id=t.pad_id,
        eos_id=t.eos_id, max_source_len=t.max_source_len, max_target_len=t.max_target_len, max_k=t.max_k,
        max_batch_tokens=t.max_batch_tokens, max_beam_size=info.max_beam, teacher_id=info.teacher_id,
        device=info.device, family=t.family, src_lang=t.src_lang or "", tgt_lang=t.tgt_lang or "")


def _ids(message: Any, field: str, name: str, ndim: int = 1) -> np.ndarray:
    if not message.HasField(field):
        raise tensors.TensorError(f"{name} is missing")
    return tensors.unpack_ids(getattr(message, field), name, ndim)


def topk_args(request: pb.TopKRequest) -> tuple[list[np.ndarray], list[np.ndarray], int]:
    """(sources, targets, k) of a TopK request."""
    src = [_ids(p, "source", f"sentence {i}: source") for i, p in enumerate(request.sentences)]
    tgt = [_ids(p, "target", f"sentence {i}: target") for i, p in enumerate(request.sentences)]
    return src, tgt, request.k


def topk_response(reply: Reply[TopKResult]) -> pb.TopKResponse:
    rows = [pb.TopKRow(ids=tensors.pack_ids(r.ids), logq=tensors.pack_logprobs(r.logq),
                       rest_logmass=tensors.pack_logprobs(r.rest_logmass)) for r in reply.results]
    return pb.TopKResponse(rows=rows, cache=_cache_stats(reply))


def sample_args(request: pb.SampleRequest) -> tuple[list[np.ndarray], list[np.ndarray], int, int]:
    """(sources, targets, m, seed) of a Sample request."""
    src = [_ids(p, "source", f"sentence {i}: source") for i, p in enumerate(request.sentences)]
    tgt = [_ids(p, "target", f"sentence {i}: target") for i, p in enumerate(request.sentences)]
    return src, tgt, request.m, request.seed


def sample_response(reply: Reply[SampledResult]) -> pb.SampleResponse:
    rows = [pb.SampleRow(ids=tensors.pack_ids(r.ids), counts=tensors.pack_counts(r.counts)) for r in reply.results]
    return pb.SampleResponse(rows=rows, cache=_cache_stats(reply))


def score_args(request: pb.ScoreRequest) -> tuple[list[np.ndarray], list[np.ndarray], list[np.ndarray]]:
    """(sources, targets, candidates) of a Score request."""
    items = request.items
    src = [_ids(it, "source", f"sentence {i}: source") for i, it in enumerate(items)]
    tgt = [_ids(it, "target", f"sentence {i}: target") for i, it in enumerate(items)]
    cands = [_ids(it, "candidates", f"sentence {i}: candidates", ndim=2) for i, it in enumerate(items)]
    return src, tgt, cands


def score_response(reply: Reply[np.ndarray]) -> pb.ScoreResponse:
    return pb.ScoreResponse(logq=[tensors.pack_logprobs(r) for r in reply.results])


def generate_args(request: pb.GenerateRequest) -> tuple[list[np.ndarray], int, int, int, list[str]]:
    """(sources, beam_size, nbest, max_len, source texts) of a Generate request (ids or texts)."""
    src = [tensors.unpack_ids(t, f"sentence {i}: source", 1) for i, t in enumerate(request.sources)]
    return src, request.beam_size, request.nbest, request.max_len, list(request.source_texts)


def generate_response(reply: Reply[list[Hypothesis]]) -> pb.GenerateResponse:
    results = [pb.NBest(hypotheses=[pb.Hypothesis(ids=tensors.pack_ids(np.asarray(h.ids, dtype=np.int64)),
                                                  score=h.score, text=h.text) for h in hyps])
               for hyps in reply.results]
    return pb.GenerateResponse(results=results, cache=_cache_stats(reply))


def _cache_stats(reply: Reply[Any]) -> pb.CacheStats:
    return pb.CacheStats(hits=reply.cache_hits, misses=reply.cache_misses)
