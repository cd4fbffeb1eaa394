"""`TeacherClient`: the trainer's handle on one or more teacher replicas over gRPC.

Each call is split into requests within the teacher's token budget (`Info.max_batch_tokens`); requests
are spread round-robin over the replicas and sent in parallel; each has a deadline (`timeout_s`) and is
retried on transient failures (UNAVAILABLE, DEADLINE_EXCEEDED, ...), moving to another replica first
(failover). When every replica has failed, the client backs off exponentially with jitter and waits for
a replica to come back (`wait_for_ready`), for at least `retries` retries and at least `retry_budget_s`
seconds in all, so that a replica restarting (a crash, a rolling update) does not fail a training run;
past the budget it raises a `TeacherError` that says how long it tried. Answers are checked by value
(`s2s.teacher.answers`): a NaN, an impossible log q or a repeated id raises `TeacherAnswerError` instead
of reaching a loss. Before a replica gets work its
`Info` is checked: every replica must have the same vocabulary, and the one the caller passed to
`check_compatible`. Bad input is not retried: it raises `TeacherInputError` / `TeacherLimitError` with
the server's message.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import grpc
import numpy as np

from kdproto import teacher_pb2 as pb
from s2s.checkpoint import check_fingerprint
from s2s.decoding import Hypothesis
from s2s.secret_files import refuse_placeholder
from s2s.settings import from_env
from s2s.teacher.answers import check_scores, check_topk
from s2s.teacher.client_settings import ClientSettings
from s2s.teacher.contract import (
    SampledResult,
    TeacherError,
    TeacherInfo,
    TeacherInputError,
    TeacherLimitError,
    TopKResult,
)
from s2s.teacher.limits import as_ids, generate_cost, pair_cost, score_cost, split_by_budget, text_generate_cost
from teacher_client import wire
from teacher_client.endpoints import Endpoint, EndpointPool, parse_endpoints

R = TypeVar("R")
RETRYABLE = frozenset({grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED,
                       grpc.StatusCode.CANCELLED, grpc.StatusCode.ABORTED})
class TeacherRpcError(TeacherError):
    """A teacher call failed at the transport (no replica answered, a deadline, an internal error);
    `code` is the gRPC status name the call ended with."""

    def __init__(self, message: str, code: str) -> None:
        super().__init__(message)
        self.code = code


_ERRORS: dict[grpc.StatusCode, type[TeacherError]] = {
    grpc.StatusCode.INVALID_ARGUMENT: TeacherInputError,
    grpc.StatusCode.RESOURCE_EXHAUSTED: TeacherLimitError,
}


class TeacherClient:
    """Batched TopK / Score / Generate against teacher replicas, synchronously or as futures."""

    def __init__(self, endpoints: Sequence[str] | str, timeout_s: float = 60.0, retries: int = 3,
                 max_message_mb: int = 64, backoff_s: float = 0.1, max_backoff_s: float = 5.0,
                 retry_budget_s: float = 60.0, tls_ca: Path | None = None, token: str | None = None) -> None:
        """`tls_ca` (a PEM file of the CA that signed the teacher's certificate) switches to TLS; `token`
        is sent as `authorization: Bearer <token>`. Without them, `ClientSettings` (`KD_TEACHER_TLS_CA`,
        `KD_TEACHER_TOKEN_FILE`: a file holding the token) are used when set."""
        targets = parse_endpoints(endpoints)
        self.timeout_s = timeout_s
        self.retries = retries
        self.retry_budget_s = retry_budget_s
        self._backoff = (backoff_s, max_backoff_s)
        credentials, self._metadata = _transport(tls_ca, token)
        self._pool = EndpointPool(targets, max_message_mb * 1024 * 1024, credentials=credentials)
        self._calls = ThreadPoolExecutor(max(4, 2 * len(targets)), thread_name_prefix="teacher-call")
        self._chunks = ThreadPoolExecutor(max(4, 2 * len(targets)), thread_name_prefix="teacher-rpc")
        self._lock = threading.Lock()
        self._info: TeacherInfo | None = None
        self._expected_fp: str | None = None
        self._stats: dict[str, float] = {"requests": 0, "sentences": 0, "rpcs": 0, "errors": 0, "retries": 0,
                                         "failovers": 0, "overloads": 0, "cache_hits": 0, "cache_misses": 0,
                                         "teacher_wait_s": 0.0}

    def info(self) -> TeacherInfo:
        """The teacher's identity and limits (asked once, from the first replica that answers)."""
        if self._info is None:
            self._with_retries(self._verify)
        assert self._info is not None
        return self._info

    def check_compatible(self, vocab_fingerprint: str) -> TeacherInfo:
        """The info, after checking the teacher uses the caller's vocabulary (VocabularyMismatchError if not);
        replicas checked later are held to the same fingerprint."""
        self._expected_fp = vocab_fingerprint
        info = self.info()
        check_fingerprint(vocab_fingerprint, info.vocab_fingerprint, "student vocabulary", f"teacher {info.model_id}")
        return info

    def topk(self, src: Sequence[Sequence[int]], tgt: Sequence[Sequence[int]], k: int) -> list[TopKResult]:
        """Per target position of every sentence: top-k ids, their log q, log of the remaining mass."""
        with self._tracked(len(src)):
            s, t = _ids(src, "source"), _ids(tgt, "target")
            _same_length(s, t, "targets")
            groups = self._split([pair_cost(a, b) for a, b in zip(s, t, strict=True)])
            results = self._send("TopK", [(wire.topk_request([s[i] for i in g], [t[i] for i in g], k), len(g))
                                          for g in groups], wire.topk_results)
            check_topk(results, [len(x) for x in t], k, self.info().vocab_size, self._source())
            return results

    def sample(self, src: Sequence[Sequence[int]], tgt: Sequence[Sequence[int]], m: int,
               seed: int = 0) -> list[SampledResult]:
        """Per target position of every sentence: m draws from q as distinct ids with their counts."""
        with self._tracked(len(src)):
            s, t = _ids(src, "source"), _ids(tgt, "target")
            _same_length(s, t, "targets")
            groups = self._split([pair_cost(a, b) for a, b in zip(s, t, strict=True)])
            results = self._send("Sample", [(wire.sample_request([s[i] for i in g], [t[i] for i in g], m, seed), len(g))
                                            for g in groups], lambda response, n: wire.sample_results(response, n, m))
            wire.check_sampled(results, [len(x) for x in t], m, self.info().vocab_size)
            return results

    def score(self, src: Sequence[Sequence[int]], tgt: Sequence[Sequence[int]],
              candidates: Sequence[np.ndarray]) -> list[np.ndarray]:
        """log q of `candidates[i]` ([len(tgt[i]), c] ids) at every position: [len(tgt[i]), c] float32."""
        with self._tracked(len(src)):
            s, t = _ids(src, "source"), _ids(tgt, "target")
            c = [as_ids(x, f"sentence {i}: candidates", ndim=2) for i, x in enumerate(candidates)]
            _same_length(s, t, "targets")
            _same_length(s, c, "candidate arrays")
            groups = self._split([score_cost(a, b, x.shape[1] if x.ndim == 2 else 1)
                                 for a, b, x in zip(s, t, c, strict=True)])
            results = self._send("Score", [(wire.score_request([s[i] for i in g], [t[i] for i in g],
                                                                [c[i] for i in g]), len(g)) for g in groups],
                                 wire.score_results)
            check_scores(results, [(len(b), x.shape[1]) for b, x in zip(t, c, strict=True)], self._source())
            return results

    def generate(self, src: Sequence[Sequence[int]], beam_size: int, nbest: int,
                 max_len: int) -> list[list[Hypothesis]]:
        """Beam search n-best lists (ids end in </s>, scores length-normalised) for every source."""
        with self._tracked(len(src)):
            s = _ids(src, "source")
            groups = self._split([generate_cost(a, beam_size, max_len) for a in s])
            return self._send("Generate", [(wire.generate_request([s[i] for i in g], beam_size, nbest, max_len),
                                            len(g)) for g in groups], wire.generate_results)

    def generate_text(self, texts: Sequence[str], beam_size: int, nbest: int,
                      max_len: int) -> list[list[Hypothesis]]:
        """Like `generate`, for sources given as text: the teacher tokenises them and every hypothesis
        carries its text, so the caller needs neither the teacher's tokenizer nor its vocabulary."""
        with self._tracked(len(texts)):
            longest = self.info().max_source_len
            groups = self._split([text_generate_cost(t, beam_size, max_len, longest) for t in texts])
            return self._send("Generate", [(wire.generate_request([], beam_size, nbest, max_len,
                                                                  [texts[i] for i in g]), len(g))
                                           for g in groups], wire.generate_results)

    def topk_async(self, src: Sequence[Sequence[int]], tgt: Sequence[Sequence[int]],
                   k: int) -> Future[list[TopKResult]]:
        return self._calls.submit(self.topk, src, tgt, k)

    def sample_async(self, src: Sequence[Sequence[int]], tgt: Sequence[Sequence[int]], m: int,
                     seed: int = 0) -> Future[list[SampledResult]]:
        return self._calls.submit(self.sample, src, tgt, m, seed)

    def score_async(self, src: Sequence[Sequence[int]], tgt: Sequence[Sequence[int]],
                    candidates: Sequence[np.ndarray]) -> Future[list[np.ndarray]]:
        return self._calls.submit(self.score, src, tgt, candidates)

    def generate_async(self, src: Sequence[Sequence[int]], beam_size: int, nbest: int,
                       max_len: int) -> Future[list[list[Hypothesis]]]:
        return self._calls.submit(self.generate, src, beam_size, nbest, max_len)

    def stats(self) -> dict[str, Any]:
        """Calls, sentences, RPCs, errors, retries, failovers, cache hits/misses the server reported, and
        seconds spent in teacher calls (`teacher_wait_s`)."""
        with self._lock:
            return dict(self._stats)

    def close(self) -> None:
        self._calls.shutdown(wait=True)
        self._chunks.shutdown(wait=True)
        self._pool.close()

    def __enter__(self) -> TeacherClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _source(self) -> str:
        return f"teacher {self.info().model_id} ({', '.join(e.target for e in self._pool.endpoints)})"

    def _split(self, costs: list[int]) -> list[list[int]]:
        return split_by_budget(costs, self.info().max_batch_tokens) or [[]]

    @contextmanager
    def _tracked(self, sentences: int) -> Iterator[None]:
        """Count one API call: its sentences, whether it failed, and how long the caller waited."""
        start = time.perf_counter()
        try:
            yield
        except Exception:
            self._count(errors=1)
            raise
        finally:
            self._count(requests=1, sentences=sentences, teacher_wait_s=time.perf_counter() - start)

    def _send(self, method: str, requests: list[tuple[Any, int]], decode: Callable[[Any, int], list[R]]) -> list[R]:
        """Send the requests of one call (in parallel when there are several) and join their results."""
        if len(requests) == 1:
            parts = [self._rpc(method, *requests[0], decode)]
        else:
            futures = [self._chunks.submit(self._rpc, method, req, n, decode) for req, n in requests]
            parts = [f.result() for f in futures]
        return [r for part in parts for r in part]

    def _rpc(self, method: str, request: Any, expected: int, decode: Callable[[Any, int], list[R]]) -> list[R]:
        def attempt(endpoint: Endpoint, timeout_s: float, wait: bool) -> Any:
            self._verify(endpoint, timeout_s, wait)
            self._count(rpcs=1)
            return getattr(endpoint.stub, method)(request, timeout=timeout_s, wait_for_ready=wait,
                                                  metadata=self._metadata)

        response = self._with_retries(attempt)
        hits, misses = wire.cache_counts(response)
        self._count(cache_hits=hits, cache_misses=misses)
        return decode(response, expected)

    def _with_retries(self, attempt: Callable[[Endpoint, float, bool], R]) -> R:
        """Run `attempt` on a replica, retrying transient failures (see the module docstring)."""
        tried: set[str] = set()
        start, n, waiting = time.monotonic(), 0, False
        while True:
            endpoint = self._pool.pick(tried)
            left = self.retry_budget_s - (time.monotonic() - start)
            timeout = min(self.timeout_s, max(left, 1.0)) if waiting else self.timeout_s
            try:
                result = attempt(endpoint, timeout, waiting)
            except grpc.RpcError as exc:
                hint = _overload_hint(exc)
                if exc.code() not in RETRYABLE and hint is None:
                    raise _to_error(exc, endpoint.target) from None
                elapsed = time.monotonic() - start
                if n >= self.retries and elapsed >= self.retry_budget_s:
                    raise TeacherRpcError(
                        f"no teacher replica answered for {elapsed:.0f} s ({n + 1} attempts, retry budget "
                        f"{self.retry_budget_s:.0f} s; last: {endpoint.target}: {exc.code().name}: {exc.details()}); "
                        "check that the teacher service is running", code=exc.code().name) from None
                if hint is not None:  # overloaded, not down: wait as told (another replica may have room)
                    self._count(retries=1, overloads=1)
                    time.sleep(hint * random.uniform(1.0, 1.5))
                    n += 1
                    continue
                self._pool.mark_down(endpoint)
                tried.add(endpoint.target)
                self._count(retries=1, failovers=int(len(tried) < len(self._pool.endpoints)))
                if len(tried) >= len(self._pool.endpoints):  # every replica failed: back off, then wait for one
                    time.sleep(min(self._backoff[1], self._backoff[0] * 2 ** min(n, 16)) * random.uniform(0.5, 1.0))
                    tried.clear()
                    waiting = True
                n += 1
                continue
            self._pool.mark_up(endpoint)
            return result

    def _verify(self, endpoint: Endpoint, timeout_s: float | None = None, wait: bool = False) -> None:
        """Ask a replica's Info once; its vocabulary must match the other replicas' and the caller's."""
        if endpoint.verified:
            return
        info = wire.info_from(endpoint.stub.Info(pb.InfoRequest(), timeout=timeout_s or self.timeout_s,
                                                 wait_for_ready=wait, metadata=self._metadata))
        with self._lock:
            reference = self._info or info
            self._info = reference
        check_fingerprint(reference.vocab_fingerprint, info.vocab_fingerprint,
                          f"teacher {reference.model_id}", f"replica {endpoint.target}")
        if self._expected_fp is not None:
            check_fingerprint(self._expected_fp, info.vocab_fingerprint, "student vocabulary",
                              f"replica {endpoint.target}")
        endpoint.verified = True

    def _count(self, **deltas: float) -> None:
        with self._lock:
            for key, value in deltas.items():
                self._stats[key] += value


def _ids(seqs: Sequence[Sequence[int]], side: str) -> list[np.ndarray]:
    return [as_ids(s, f"sentence {i}: {side}") for i, s in enumerate(seqs)]


def _same_length(src: list[np.ndarray], other: Sequence[Any], what: str) -> None:
    if len(other) != len(src):
        raise TeacherInputError(f"ragged batch: {len(src)} sources but {len(other)} {what}")


def _transport(tls_ca: Path | None, token: str | None) -> tuple[grpc.ChannelCredentials | None,
                                                                tuple[tuple[str, str], ...]]:
    """Channel credentials and call metadata from the arguments, else from the environment (`ClientSettings`)."""
    settings = from_env(ClientSettings)
    ca = tls_ca or settings.tls_ca
    if token is None and settings.token_file is not None:
        token = read_token(settings.token_file)
    credentials = None
    if ca is not None:
        try:
            credentials = grpc.ssl_channel_credentials(root_certificates=Path(ca).read_bytes())
        except OSError as exc:
            raise TeacherError(f"cannot read the teacher's CA certificate {ca} ({exc.strerror})") from exc
    return credentials, ((("authorization", f"Bearer {token}"),) if token else ())


def read_token(path: Path) -> str:
    """The teacher token in a file (a mounted secret)."""
    try:
        token = Path(path).read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise TeacherError(f"cannot read the teacher token from {path} ({exc.strerror})") from exc
    if not token:
        raise TeacherError(f"the teacher token file {path} is empty")
    refuse_placeholder(token, f"teacher token in {path}")
    return token


def _overload_hint(exc: grpc.RpcError) -> float | None:
    """Seconds to wait when the teacher shed the request (its queue or its RPC limit was full), else None.

    The teacher's queue answers RESOURCE_EXHAUSTED with `retry-after-ms` in the trailing metadata; gRPC's
    own concurrency limit answers RESOURCE_EXHAUSTED "Concurrent RPC limit exceeded" without metadata.
    A request over the teacher's size budget is RESOURCE_EXHAUSTED too, but it is not an overload and
    is not retried (it would fail again)."""
    if exc.code() != grpc.StatusCode.RESOURCE_EXHAUSTED:
        return None
    for key, value in exc.trailing_metadata() or ():
        if key == "retry-after-ms":
            try:
                return max(float(value), 1.0) / 1000.0
            except ValueError:
                return 0.1
    return 0.1 if "Concurrent RPC limit" in (exc.details() or "") else None


def _to_error(exc: grpc.RpcError, target: str) -> TeacherError:
    code = exc.code()
    kind = _ERRORS.get(code)
    if kind is not None:
        return kind(str(exc.details()))
    return TeacherRpcError(f"teacher at {target} failed: {code.name}: {exc.details()}", code=code.name)
