"""One training step's loss and backward pass for every recipe loss, built on `s2s.losses`.

The total is `(1-w)·NLL + w·D`, where `w` is `loss.alpha` (Word-KD, JSD, TIE-KD) or `loss.lam` (KA) and
`D` the distillation term on the configured support (teacher top-k, student top-k', or the full
vocabulary with an in-process teacher). When `D` needs an answer that is still in flight (the `Score`
of the student's own candidates), the NLL part is back-propagated first so that the teacher's latency
hides behind that work; the gradients add up to those of the single combined backward pass.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from s2s.losses import (
    jsd_loss,
    ka_exact_loss,
    ka_loss,
    nll_loss,
    student_candidates,
    tie_kd_loss,
    word_kd_loss,
)
from student_trainer.batches import Batch, BatchTensors, to_tensors
from student_trainer.on_policy import policy_batch
from student_trainer.recipe import LossSpec
from student_trainer.recipe_checks import resolved_support
from student_trainer.teacher_link import (
    TeacherAPI,
    WaitClock,
    candidate_arrays,
    candidate_logq,
    topk_tensors,
)

NoSync = Callable[[], contextlib.AbstractContextManager[Any]]


@dataclass
class Pending:
    """Teacher answers a step waits for, and the student candidates the Score request was sent with."""

    topk: Future[Any] | None = None
    score: Future[Any] | None = None
    cands: torch.Tensor | None = None

    def in_flight(self) -> bool:
        return any(f is not None and not f.done() for f in (self.topk, self.score))


def forward_logits(model: nn.Module, t: BatchTensors) -> torch.Tensor:
    """[B, T, V] student logits under teacher forcing."""
    out = model(input_ids=t.input_ids, attention_mask=t.attention_mask, decoder_input_ids=t.decoder_input_ids,
                decoder_attention_mask=t.decoder_mask)
    return out.logits  # type: ignore[no-any-return]


class Objective:
    """The loss of a recipe: which teacher answers it needs, and how one step computes and back-propagates it."""

    def __init__(self, spec: LossSpec, pad_id: int, teacher: TeacherAPI | None, clock: WaitClock,
                 teacher_model: nn.Module | None = None, seed: int = 0, amp: bool = False) -> None:
        self.spec, self.pad_id, self.teacher, self.clock = spec, pad_id, teacher, clock
        self.amp = amp
        self.support = resolved_support(spec)
        self.weight = spec.lam if spec.kind == "ka" else spec.alpha
        self.teacher_model = teacher_model
        self.needs_topk = spec.kind in ("jsd", "tie_kd") or (
            spec.kind in ("word_kd", "ka") and self.support == "teacher")
        self.needs_score = spec.kind == "jsd" or (spec.kind in ("word_kd", "ka") and self.support == "student")
        self._generator = torch.Generator().manual_seed(seed)

    @property
    def prefetchable(self) -> bool:
        """Whether the teacher answer for a batch can be requested before the step (TopK on fixed targets)."""
        return self.needs_topk and self.spec.on_policy == "off"

    def request(self, batch: Batch) -> Future[Any]:
        """Send the TopK request for `batch` (used by the prefetcher)."""
        assert self.teacher is not None
        return self.teacher.topk_async(batch.src, batch.tgt, self.spec.k)

    def step(self, model: nn.Module, batch: Batch, topk_future: Future[Any] | None, device: torch.device,
             no_sync: NoSync | None = None) -> dict[str, float]:
        """Forward, loss and backward for one batch; returns the loss parts (per target token).

        `no_sync` is the DDP model's `no_sync` when there are several workers: then the NLL part is not
        back-propagated separately (DDP reduces gradients once per forward), except on-policy, where the
        reference pass runs entirely under `no_sync` and the policy pass reduces the sum.
        """
        sync_off = no_sync or contextlib.nullcontext
        if self.spec.kind == "nll":
            t = to_tensors(batch, self.pad_id, device)
            nll = nll_loss(self._forward(model, t), t.labels, self.pad_id, self.spec.label_smoothing)
            nll.backward()
            return {"loss": nll.item(), "nll": nll.item()}
        if self.spec.on_policy != "off":
            return self._on_policy_step(model, batch, device, sync_off)
        t = to_tensors(batch, self.pad_id, device)
        logits = self._forward(model, t)
        nll = nll_loss(logits, t.labels, self.pad_id, self.spec.label_smoothing)
        pending = self._requests(batch, logits, topk_future)
        nll_done = False
        if no_sync is None and self.weight < 1.0 and pending.in_flight():
            ((1.0 - self.weight) * nll).backward(retain_graph=True)
            nll_done = True
        distill = self._distill(logits, t, pending)
        total = self.weight * distill if nll_done else (1.0 - self.weight) * nll + self.weight * distill
        total.backward()
        return {"loss": ((1.0 - self.weight) * nll + self.weight * distill).item(), "nll": nll.item(),
                "distill": distill.item()}

    def _on_policy_step(self, model: nn.Module, batch: Batch, device: torch.device,
                        sync_off: NoSync) -> dict[str, float]:
        """NLL on the reference, then the distillation term on the student's own outputs for the same sources."""
        with sync_off():
            t = to_tensors(batch, self.pad_id, device)
            nll = nll_loss(self._forward(model, t), t.labels, self.pad_id, self.spec.label_smoothing)
            ((1.0 - self.weight) * nll).backward()
        own = policy_batch(model, batch, self.pad_id, self.spec.on_policy == "sample", device)
        own_t = to_tensors(own, self.pad_id, device)
        logits = self._forward(model, own_t)
        distill = self._distill(logits, own_t, self._requests(own, logits, None))
        (self.weight * distill).backward()
        return {"loss": ((1.0 - self.weight) * nll + self.weight * distill).item(), "nll": nll.item(),
                "distill": distill.item()}

    def _requests(self, batch: Batch, logits: torch.Tensor, topk_future: Future[Any] | None) -> Pending:
        """Every teacher answer this step needs: TopK (possibly prefetched) and Score, sent now."""
        pending = Pending()
        if self.needs_topk:
            pending.topk = topk_future if topk_future is not None else self.request(batch)
        if self.needs_score:
            assert self.teacher is not None
            gen = self._generator if logits.device.type == "cpu" else None
            pending.cands = student_candidates(logits.detach(), self.spec.k_prime,
                                               sample=self.spec.sample_candidates, generator=gen)
            pending.score = self.teacher.score_async(batch.src, batch.tgt,
                                                     candidate_arrays(pending.cands, _lengths(batch)))
        return pending

    def _distill(self, logits: torch.Tensor, t: BatchTensors, pending: Pending) -> torch.Tensor:
        """The distillation term D (per real target token)."""
        mask, kind = t.target_mask, self.spec.kind
        topk = (topk_tensors(self.clock.wait(pending.topk), logits.shape[1], logits.device)
                if pending.topk is not None else None)
        cands = pending.cands
        logq = (candidate_logq(self.clock.wait(pending.score), _shape3(cands), logits.device)
                if pending.score is not None and cands is not None else None)
        if kind == "ka" and self.support == "full":
            return ka_exact_loss(logits, self._teacher_logits(t), mask)
        if kind == "ka":
            ids, lq = (cands, logq) if self.support == "student" else (_req(topk).ids, _req(topk).logq)
            return ka_loss(logits, _req(ids), _req(lq), mask, renormalise=self.spec.renormalise)
        if kind == "word_kd" and self.support == "student":
            rest = torch.log1p(-_req(logq).exp().sum(-1).clamp(max=1.0 - 1e-6))
            return word_kd_loss(logits, _req(cands), _req(logq), rest, mask, tail=self.spec.tail)
        top = _req(topk)
        if kind == "jsd":
            return jsd_loss(logits, top.ids, top.logq, top.rest_logmass, _req(cands), _req(logq), mask,
                            beta=self.spec.beta, tail=self.spec.tail, renormalise=self.spec.renormalise)
        kd = word_kd_loss(logits, top.ids, top.logq, top.rest_logmass, mask, tail=self.spec.tail)
        if kind == "tie_kd":
            return kd + self.spec.rank_weight * tie_kd_loss(logits, top.ids, mask, margin=self.spec.margin)
        return kd

    def _forward(self, model: nn.Module, t: BatchTensors) -> torch.Tensor:
        """Student logits, in bf16 autocast on CUDA (losses cast to float32 themselves)."""
        if not self.amp:
            return forward_logits(model, t)
        with torch.autocast("cuda", dtype=torch.bfloat16):
            return forward_logits(model, t)

    @torch.inference_mode()
    def _teacher_logits(self, t: BatchTensors) -> torch.Tensor:
        """Full teacher logits for the exact KA (in-process teacher only)."""
        assert self.teacher_model is not None
        dev = next(self.teacher_model.parameters()).device
        out = self.teacher_model(input_ids=t.input_ids.to(dev), attention_mask=t.attention_mask.to(dev),
                                 decoder_input_ids=t.decoder_input_ids.to(dev),
                                 decoder_attention_mask=t.decoder_mask.to(dev))
        return out.logits.float().to(t.input_ids.device).clone()


def _req(value: Any) -> Any:
    assert value is not None, "the objective requested this teacher answer"
    return value


def _shape3(t: torch.Tensor) -> tuple[int, int, int]:
    return int(t.shape[0]), int(t.shape[1]), int(t.shape[2])


def _lengths(batch: Batch) -> list[int]:
    return [len(t) for t in batch.tgt]
