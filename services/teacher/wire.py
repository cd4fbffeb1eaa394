"""The only server module that touches protobuf types: requests to numpy, engine replies to responses.

Handlers pass request messages through `*_args` and engine replies through `*_response` without looking
inside. Malformed tensors raise `kdproto.tensors.TensorError` naming the sentence and field.

Every `*_args` first prices the request from the sizes its tensors declare (their `shape` fields, the
number of sentences, the lengths of source texts), with the same cost rules as the engine
(`s2s.teacher.limits`), and refuses one over the teacher's budget with `TeacherLimitError` before anything
is converted: an oversized request costs the server the message it sent, never the int64 arrays and
range checks it would have expanded into. (A tensor's bytes must match its declared shape, which
`kdproto.tensors.unpack` checks next, so a request cannot declare small and send large.)
"""

from __future__ import annotations

import math
from typing import Any

import grpc
import numpy as np

from kdproto import teacher_pb2 as pb
from kdproto import teacher_pb2_grpc as pb_grpc
from kdproto import tensors
from s2s.decoding import Hypothesis
from s2s.teacher.contract import SampledResult, TopKResult
from s2s.teacher.limits import (
    TeacherLimits,
    check_budget,
    check_generate,
    generate_cost_of,
    score_cost_of,
    text_generate_cost,
)
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
        device=info.device, family=t.family, src_lang=t.src_lang or "", tgt_lang=t.tgt_lang or "",
        members=[pb.Member(model_id=m.model_id, weight=m.weight, teacher_id=m.teacher_id) for m in t.members],
        engine=info.engine)


def _ids(message: Any, field: str, name: str, ndim: int = 1) -> np.ndarray:
    if not message.HasField(field):
        raise tensors.TensorError(f"{name} is missing")
    return tensors.unpack_ids(getattr(message, field), name, ndim)


def _size(message: Any, field: str) -> int:
    """Elements a tensor field declares (at least 1, as every valid sequence has; 1 when absent)."""
    if not message.HasField(field):
        return 1
    return max(math.prod(max(int(d), 0) for d in getattr(message, field).shape), 1)


def _rows_and_width(tensor: pb.Tensor) -> tuple[int, int]:
    """(positions, candidates) a [T, c] candidates tensor declares; any other rank counts as T = elements."""
    shape = [max(int(d), 0) for d in tensor.shape]
    return (shape[0], shape[1]) if len(shape) == 2 else (max(math.prod(shape), 1), 1)


def topk_args(request: pb.TopKRequest, limits: TeacherLimits) -> tuple[list[np.ndarray], list[np.ndarray], int]:
    """(sources, targets, k) of a TopK request, priced from its declared sizes first."""
    check_budget(sum(_size(p, "source") + _size(p, "target") for p in request.sentences), limits)
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


def score_args(request: pb.ScoreRequest,
               limits: TeacherLimits) -> tuple[list[np.ndarray], list[np.ndarray], list[np.ndarray]]:
    """(sources, targets, candidates) of a Score request, priced from its declared sizes first."""
    items = request.items
    check_budget(sum(_score_size(it) for it in items), limits)
    src = [_ids(it, "source", f"sentence {i}: source") for i, it in enumerate(items)]
    tgt = [_ids(it, "target", f"sentence {i}: target") for i, it in enumerate(items)]
    cands = [_ids(it, "candidates", f"sentence {i}: candidates", ndim=2) for i, it in enumerate(items)]
    return src, tgt, cands


def _score_size(item: pb.ScoreItem) -> int:
    rows, width = _rows_and_width(item.candidates) if item.HasField("candidates") else (1, 1)
    return score_cost_of(_size(item, "source"), max(_size(item, "target"), rows), width)


def score_response(reply: Reply[np.ndarray]) -> pb.ScoreResponse:
    return pb.ScoreResponse(logq=[tensors.pack_logprobs(r) for r in reply.results])


def generate_args(request: pb.GenerateRequest,
                  limits: TeacherLimits) -> tuple[list[np.ndarray], int, int, int, list[str]]:
    """(sources, beam_size, nbest, max_len, source texts) of a Generate request (ids or texts), its beam
    and lengths checked and its cost priced from its declared sizes first."""
    beam, max_len = request.beam_size, request.max_len
    check_generate(beam, request.nbest, max_len, limits)
    cost = sum(generate_cost_of(max(math.prod(max(int(d), 0) for d in t.shape), 1), beam, max_len)
               for t in request.sources)
    cost += sum(text_generate_cost(text, beam, max_len, limits.max_source_len) for text in request.source_texts)
    check_budget(cost, limits)
    src = [tensors.unpack_ids(t, f"sentence {i}: source", 1) for i, t in enumerate(request.sources)]
    return src, request.beam_size, request.nbest, request.max_len, list(request.source_texts)


def generate_response(reply: Reply[list[Hypothesis]]) -> pb.GenerateResponse:
    results = [pb.NBest(hypotheses=[pb.Hypothesis(ids=tensors.pack_ids(np.asarray(h.ids, dtype=np.int64)),
                                                  score=h.score, text=h.text) for h in hyps])
               for hyps in reply.results]
    return pb.GenerateResponse(results=results, cache=_cache_stats(reply))


def _cache_stats(reply: Reply[Any]) -> pb.CacheStats:
    return pb.CacheStats(hits=reply.cache_hits, misses=reply.cache_misses)
