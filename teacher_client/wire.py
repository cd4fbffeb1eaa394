"""Client-side protobuf conversion: Python/numpy inputs to requests, responses to `s2s.teacher.contract` types.

Ids are packed in the smallest integer type that holds them (uint16 for any vocabulary up to 65536);
out-of-range ids are sent as they are so the server can refuse them with a precise message.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from kdproto import teacher_pb2 as pb
from kdproto import tensors
from s2s.decoding import Hypothesis
from s2s.teacher.answers import sampled_problem
from s2s.teacher.contract import SampledResult, TeacherError, TeacherInfo, TeacherMember, TopKResult


def info_from(response: pb.InfoResponse) -> TeacherInfo:
    return TeacherInfo(
        model_id=response.model_id, vocab_size=response.vocab_size, vocab_fingerprint=response.vocab_fingerprint,
        pad_id=response.pad_id, eos_id=response.eos_id, max_source_len=response.max_source_len,
        max_target_len=response.max_target_len, max_k=response.max_k, max_batch_tokens=response.max_batch_tokens,
        family=response.family or "marian", src_lang=response.src_lang or None, tgt_lang=response.tgt_lang or None,
        members=tuple(TeacherMember(m.model_id, m.weight, m.teacher_id) for m in response.members),
        teacher_id=response.teacher_id)


def topk_request(src: Sequence[np.ndarray], tgt: Sequence[np.ndarray], k: int) -> pb.TopKRequest:
    pairs = [pb.SentencePair(source=tensors.pack_ids(s), target=tensors.pack_ids(t))
             for s, t in zip(src, tgt, strict=True)]
    return pb.TopKRequest(sentences=pairs, k=k)


def topk_results(response: pb.TopKResponse, expected: int) -> list[TopKResult]:
    _check_count(len(response.rows), expected, "TopK")
    return [TopKResult(tensors.unpack_ids(row.ids, "ids", 2), tensors.unpack_floats(row.logq, "logq", 2),
                       tensors.unpack_floats(row.rest_logmass, "rest_logmass", 1)) for row in response.rows]


def sample_request(src: Sequence[np.ndarray], tgt: Sequence[np.ndarray], m: int, seed: int) -> pb.SampleRequest:
    pairs = [pb.SentencePair(source=tensors.pack_ids(s), target=tensors.pack_ids(t))
             for s, t in zip(src, tgt, strict=True)]
    return pb.SampleRequest(sentences=pairs, m=m, seed=seed)


def sample_results(response: pb.SampleResponse, expected: int, m: int) -> list[SampledResult]:
    _check_count(len(response.rows), expected, "Sample")
    return [SampledResult(tensors.unpack_ids(row.ids, "ids", 1), tensors.unpack_counts(row.counts, "counts"), m)
            for row in response.rows]


def check_sampled(results: Sequence[SampledResult], lengths: Sequence[int], m: int, vocab_size: int) -> None:
    """Refuse rows that do not answer their targets (m draws at each position, ids in range): a broken peer."""
    for i, (result, length) in enumerate(zip(results, lengths, strict=True)):
        problem = sampled_problem(result, length, m, vocab_size)
        if problem:
            raise TeacherError(f"Sample answered sentence {i} with an unusable row ({problem}); the server is broken")


def score_request(src: Sequence[np.ndarray], tgt: Sequence[np.ndarray],
                  candidates: Sequence[np.ndarray]) -> pb.ScoreRequest:
    items = [pb.ScoreItem(source=tensors.pack_ids(s), target=tensors.pack_ids(t), candidates=tensors.pack_ids(c))
             for s, t, c in zip(src, tgt, candidates, strict=True)]
    return pb.ScoreRequest(items=items)


def score_results(response: pb.ScoreResponse, expected: int) -> list[np.ndarray]:
    _check_count(len(response.logq), expected, "Score")
    return [tensors.unpack_floats(t, "logq", 2) for t in response.logq]


def generate_request(src: Sequence[np.ndarray], beam_size: int, nbest: int, max_len: int,
                     texts: Sequence[str] = ()) -> pb.GenerateRequest:
    return pb.GenerateRequest(sources=[tensors.pack_ids(s) for s in src], source_texts=list(texts),
                              beam_size=beam_size, nbest=nbest, max_len=max_len)


def generate_results(response: pb.GenerateResponse, expected: int) -> list[list[Hypothesis]]:
    _check_count(len(response.results), expected, "Generate")
    return [[Hypothesis([int(i) for i in tensors.unpack_ids(h.ids, "ids", 1)], float(h.score), h.text)
             for h in nbest.hypotheses] for nbest in response.results]


def cache_counts(response: pb.TopKResponse | pb.GenerateResponse | pb.ScoreResponse | pb.SampleResponse
                 ) -> tuple[int, int]:
    """(hits, misses) a response reports (Score has no cache)."""
    if isinstance(response, pb.ScoreResponse):
        return 0, 0
    return response.cache.hits, response.cache.misses


def _check_count(got: int, expected: int, rpc: str) -> None:
    if got != expected:
        raise TeacherError(f"{rpc} answered {got} results for {expected} sentences; the server is broken")
