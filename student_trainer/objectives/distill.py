"""The step of every objective `(1-w)·NLL + w·D`: fetch what the term D needs, compute, back-propagate.

The term says which teacher answers it needs; the step fetches them (the `TopK` or the sampled signal on the
batch's targets, possibly prefetched, the `Score` of the term's candidates sent inside the step, the full
logits of an in-process teacher) and runs D on the references or on the student's own translations
(`rollout`). When D waits for an answer still in flight, the NLL part is back-propagated first so that the
teacher's latency hides behind that work; the gradients add up to those of the single combined backward
pass. With several data-parallel workers DDP
reduces gradients once per forward, so the reference step then waits and back-propagates once, and the
on-policy step runs its reference pass under `no_sync`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from s2s.losses import nll_loss
from s2s.teacher.contract import Signal
from student_trainer.batches import Batch, BatchTensors
from student_trainer.objectives.registry import lookup
from student_trainer.objectives.settings import DistillSettings
from student_trainer.objectives.step import StepContext, StepInputs
from student_trainer.objectives.terms import Answers, DistillTerm
from student_trainer.teacher_link import candidate_arrays, candidate_logq, sampled_tensors, topk_tensors


@dataclass
class Pending:
    """Teacher answers a step waits for, and the candidates the Score request was sent with."""

    fixed: Future[Any] | None = None  # TopK or the sampled signal on the batch's targets
    score: Future[Any] | None = None
    cands: torch.Tensor | None = None

    def in_flight(self) -> bool:
        return any(f is not None and not f.done() for f in (self.fixed, self.score))


def distillation(settings: DistillSettings, context: StepContext) -> DistillStep:
    """The step factory of every objective with a distillation term (its `ObjectiveInfo.step`)."""
    term = lookup(settings.kind).term(settings)
    if term is None:
        raise ValueError(f"objective {settings.kind!r} has no distillation term for support {settings.support!r}")
    return DistillStep(settings, term, context)


class DistillStep:
    """`(1-w)·NLL + w·D` on the references, or NLL on the references plus `w·D` on the student's own outputs."""

    def __init__(self, settings: DistillSettings, term: DistillTerm[Any], context: StepContext) -> None:
        self.settings, self.term, self.ctx = settings, term, context
        self.weight = term.weight

    @property
    def prefetch(self) -> Signal | None:
        """TopK or the sampled signal on fixed targets (the references) can be requested before the step."""
        return self.term.signal if self.term.rollout == "reference" else None

    def __call__(self, s: StepInputs) -> dict[str, float]:
        if self.term.rollout != "reference":
            return self._on_policy(s)
        t = self.ctx.tensors(s.batch, s.device)
        logits = self.ctx.forward(s.model, t)
        nll = nll_loss(logits, t.labels, self.ctx.pad_id, self.settings.label_smoothing)
        pending = self._requests(s.batch, logits, t, s.prefetched)
        nll_done = False
        if s.no_sync is None and self.weight < 1.0 and pending.in_flight():
            (s.scale * (1.0 - self.weight) * nll).backward(retain_graph=True)
            nll_done = True
        distill = self.term(logits, t, self._answers(pending, logits, t))
        total = self.weight * distill if nll_done else (1.0 - self.weight) * nll + self.weight * distill
        (s.scale * total).backward()
        return self._parts(nll, distill)

    def _on_policy(self, s: StepInputs) -> dict[str, float]:
        """NLL on the reference, then the distillation term on the student's own outputs for the same sources."""
        from student_trainer.on_policy import policy_batch, sample_exactly  # generation imports transformers

        with (s.no_sync or contextlib.nullcontext)():
            t = self.ctx.tensors(s.batch, s.device)
            nll = nll_loss(self.ctx.forward(s.model, t), t.labels, self.ctx.pad_id, self.settings.label_smoothing)
            (s.scale * (1.0 - self.weight) * nll).backward()
        exact = self.term.rollout == "exact_sample"
        pad = self.ctx.pad_id
        own = (sample_exactly(s.model, s.batch, pad, s.device, self.ctx.generator) if exact
               else policy_batch(s.model, s.batch, pad, self.term.rollout == "sample", s.device))
        own_t = self.ctx.tensors(own, s.device)
        with _eval_mode(s.model) if exact else contextlib.nullcontext():
            logits = self.ctx.forward(s.model, own_t)
            distill = self.term(logits, own_t, self._answers(self._requests(own, logits, own_t, None), logits, own_t))
            (s.scale * self.weight * distill).backward()
        return self._parts(nll, distill)

    def _parts(self, nll: torch.Tensor, distill: torch.Tensor) -> dict[str, float]:
        return {"loss": ((1.0 - self.weight) * nll + self.weight * distill).item(), "nll": nll.item(),
                "distill": distill.item()}

    def _requests(self, batch: Batch, logits: torch.Tensor, t: BatchTensors,
                  prefetched: Future[Any] | None) -> Pending:
        """Every teacher answer the term needs: TopK or the sampled signal (possibly prefetched) and Score."""
        pending = Pending()
        signal = self.term.signal
        if signal is not None:
            pending.fixed = prefetched if prefetched is not None else self.ctx.request(batch, signal)
        if "score" in self.term.needs:
            assert self.ctx.teacher is not None
            gen = self.ctx.generator if logits.device.type == "cpu" else None
            pending.cands = self.term.candidates(logits, t, gen)
            pending.score = self.ctx.teacher.score_async(batch.src, batch.tgt,
                                                         candidate_arrays(pending.cands, [len(x) for x in batch.tgt]))
        return pending

    def _answers(self, pending: Pending, logits: torch.Tensor, t: BatchTensors) -> Answers:
        """Wait for the pending answers and turn them into tensors on the logits' device."""
        clock = self.ctx.clock
        fixed = clock.wait(pending.fixed) if pending.fixed is not None else None
        kind = self.term.signal.kind if self.term.signal is not None else None
        topk = topk_tensors(fixed, logits.shape[1], logits.device) if fixed is not None and kind == "topk" else None
        sampled = (sampled_tensors(fixed, logits.shape[1], logits.device)
                   if fixed is not None and kind == "sampled" else None)
        cands = pending.cands
        logq = (candidate_logq(clock.wait(pending.score), _shape3(cands), logits.device)
                if pending.score is not None and cands is not None else None)
        full = self._teacher_logits(t) if "full_logits" in self.term.needs else None
        return Answers(topk=topk, sampled=sampled, cands=cands, cand_logq=logq, teacher_logits=full)

    @torch.inference_mode()
    def _teacher_logits(self, t: BatchTensors) -> torch.Tensor:
        """Full teacher logits for the exact KA (in-process teacher only)."""
        teacher = self.ctx.teacher_model
        assert teacher is not None
        dev = next(teacher.parameters()).device
        out = teacher(input_ids=t.input_ids.to(dev), attention_mask=t.attention_mask.to(dev),
                      decoder_input_ids=t.decoder_input_ids.to(dev), decoder_attention_mask=t.decoder_mask.to(dev))
        return out.logits.float().to(t.input_ids.device).clone()


@contextlib.contextmanager
def _eval_mode(model: nn.Module) -> Iterator[None]:
    """Dropout off for a forward and backward pass (the same p that `sample_exactly` sampled from)."""
    plain: nn.Module = getattr(model, "module", model)
    was_training = plain.training
    plain.eval()
    try:
        yield
    finally:
        plain.train(was_training)


def _shape3(t: torch.Tensor) -> tuple[int, int, int]:
    return int(t.shape[0]), int(t.shape[1]), int(t.shape[2])
