"""The trainer's teacher when the recipe names a teacher-output store (`teacher.store`).

`StoreTeacher` has the teacher API the trainer codes against (`TeacherAPI`): it answers TopK and the sampled
signal from the store, memory-mapped, and asks the live teacher (`teacher.endpoints` or `teacher.in_process`,
when set) only for the sentences the store lacks and for what a store cannot hold (Score, Generate, answers
of another width). With no live teacher, a sentence the store lacks stops the run with a message that says
why it happens and what to do: training never silently changes its signal.

`check_store_for_run` is the driver's check before any work (`student_trainer.launch.preflight`): it opens the
store (every shard's checksum, so a damaged shard is named before Ray starts) and refuses a store of another
vocabulary, teacher, signal or, without a live teacher to fill in, of another corpus or tokenisation.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
from collections.abc import Callable
from concurrent.futures import Future
from pathlib import Path
from typing import Any

from s2s.teacher.contract import TeacherInfo
from s2s.teacher.store.manifest import Signal, StoreError, StoreMismatchError
from s2s.teacher.store.reader import TeacherStore
from s2s.teacher.store.shards import file_sha256
from student_trainer.objectives.registry import lookup
from student_trainer.objectives.settings import DistillSettings, ObjectiveSettings
from student_trainer.recipe import Recipe

log = logging.getLogger(__name__)


class StoreMissError(StoreError):
    """A batch holds sentences the store lacks, and no live teacher is configured to answer them."""


def required_signal(loss: ObjectiveSettings) -> Signal | None:
    """The answer a run's objective asks for on the references (what a store can hold), or None."""
    info = lookup(loss.kind)
    term = info.term(loss)
    if term is None or (isinstance(loss, DistillSettings) and loss.rollout != "reference"):
        return None
    return term.signal


class StoreTeacher:
    """TopK and the sampled signal from a store; the rest from the live teacher (see the module docstring)."""

    def __init__(self, folder: str | Path, live: Any | None = None) -> None:
        self.store = TeacherStore(folder)
        self.live = live
        self._lock = threading.Lock()
        self._counts = {"store_hits": 0, "store_misses": 0}

    @property
    def checkpoint(self) -> Any:
        """The in-process live teacher's checkpoint (the exact KA reads its model), else None."""
        return getattr(self.live, "checkpoint", None)

    def info(self) -> TeacherInfo:
        """The live teacher's info, else the one the store was made with."""
        if self.live is not None:
            return self.live.info()  # type: ignore[no-any-return]
        known = {f.name for f in dataclasses.fields(TeacherInfo)}
        return TeacherInfo(**{k: v for k, v in self.store.manifest.teacher.items() if k in known})

    def check_compatible(self, vocab_fingerprint: str) -> TeacherInfo:
        """Refuse a store (and a live teacher) of another vocabulary, and a live teacher that is another model
        than the store's (its answers would mix with the store's)."""
        self.store.refuse_unless(vocab_fingerprint=vocab_fingerprint)
        if self.live is None:
            return self.info()
        info: TeacherInfo = self.live.check_compatible(vocab_fingerprint)
        self.store.refuse_unless(teacher_id=info.teacher_id)
        return info

    def topk_async(self, src: Any, tgt: Any, k: int) -> Future[Any]:
        return self._answer(Signal("topk", k), src, tgt, lambda s, t: self._need_live("TopK").topk_async(s, t, k))

    def sample_async(self, src: Any, tgt: Any, m: int, seed: int = 0) -> Future[Any]:
        return self._answer(Signal("sampled", m, seed), src, tgt,
                            lambda s, t: self._need_live("Sample").sample_async(s, t, m, seed))

    def score_async(self, src: Any, tgt: Any, candidates: Any) -> Future[Any]:
        return self._need_live("Score").score_async(src, tgt, candidates)  # type: ignore[no-any-return]

    def generate(self, src: Any, beam_size: int, nbest: int, max_len: int) -> Any:
        return self._need_live("Generate").generate(src, beam_size, nbest, max_len)

    def stats(self) -> dict[str, Any]:
        """The live teacher's stats (zeros without one) plus the store's hits and misses, by sentence."""
        base = dict(self.live.stats()) if self.live is not None else {}
        with self._lock:
            return {**base, **self._counts}

    def close(self) -> None:
        if self.live is not None:
            self.live.close()

    def _need_live(self, what: str) -> Any:
        if self.live is None:
            raise StoreError(f"{what} needs a live teacher, and this run has only {self.store.describe()}; set "
                             "teacher.endpoints (or teacher.in_process) too")
        return self.live

    def _answer(self, signal: Signal, src: Any, tgt: Any, ask_live: Callable[[Any, Any], Future[Any]]) -> Future[Any]:
        """The store's answers, with the sentences it lacks (or all, for another signal) asked of the live
        teacher; a future of the answers in order."""
        if not self._holds(signal):
            return ask_live(src, tgt)
        found = self.store.get_many(src, tgt)
        missing = [i for i, r in enumerate(found) if r is None]
        with self._lock:
            self._counts["store_hits"] += len(found) - len(missing)
            self._counts["store_misses"] += len(missing)
        out: Future[Any] = Future()
        if not missing:
            out.set_result(found)
            return out
        if self.live is None:
            raise StoreMissError(
                f"{len(missing)} of the {len(found)} sentences of this batch are not in {self.store.describe()}. "
                "A store answers the sentences of the corpus it was made from, tokenised as then: data.train, "
                "data.src_col / data.tgt_col, data.max_len and the student's tokenizer must be those given to "
                "`kd teacher precompute`. Precompute a store from this run's data, or set teacher.endpoints too, "
                "so that the live teacher answers what the store lacks")
        live = ask_live([src[i] for i in missing], [tgt[i] for i in missing])

        def merge(done: Future[Any]) -> None:
            try:
                for i, result in zip(missing, done.result(), strict=True):
                    found[i] = result
                out.set_result(found)
            except BaseException as exc:  # noqa: BLE001 - handed to whoever waits on the future
                out.set_exception(exc)

        live.add_done_callback(merge)
        return out

    def _holds(self, signal: Signal) -> bool:
        """Whether the store answers this signal; without a live teacher, another signal is refused."""
        mine = self.store.signal
        if (signal.kind, signal.size, signal.seed) == (mine.kind, mine.size, mine.seed):
            return True
        if self.live is None:
            self.store.refuse_unless(signal=signal)
        return False


def check_store_for_run(recipe: Recipe, vocab_fingerprint: str, live_teacher_id: str | None) -> TeacherStore:
    """The driver's check of `teacher.store` before any work (see the module docstring); returns the store."""
    t = recipe.teacher
    assert t.store, "only for recipes with teacher.store"
    store = TeacherStore(t.store)
    signal = required_signal(recipe.loss)
    store.refuse_unless(vocab_fingerprint=vocab_fingerprint, teacher_id=live_teacher_id, signal=signal)
    live = bool(t.endpoints or t.in_process)
    corpus, d = store.identity.corpus, recipe.data
    differs = [f"{key} {corpus.get(key)!r} != {mine!r}" for key, mine in (
        ("src_col", d.src_col), ("tgt_col", d.tgt_col), ("max_len", d.max_len),
        ("data_sha256", file_sha256(Path(d.train)))) if corpus.get(key) != mine]
    if differs and not live:
        raise StoreMismatchError(
            f"{store.describe()} was made from another corpus or tokenisation than this run's data "
            f"({'; '.join(differs)}): most batches would miss it. Precompute it with `kd teacher precompute "
            f"--data {d.train} --src {d.src_col} --tgt {d.tgt_col} --max-len {d.max_len} ...`, or set "
            "teacher.endpoints too, so that the live teacher answers what the store lacks")
    if differs:
        log.warning("%s was made from other data (%s): the live teacher answers what it lacks", store.describe(),
                    "; ".join(differs))
    return store
