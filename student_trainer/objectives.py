"""One training step's loss and backward pass, built on the recipe's distillation term.

The total is `(1-w)·NLL + w·D`, where D is the recipe's `student_trainer.terms` object and w its weight
(`loss.alpha` or `loss.lam`). The term says which teacher answers it needs; this module fetches them (the
`TopK` possibly prefetched, the `Score` of the term's candidates sent inside the step, the full logits of
an in-process teacher), and runs D on the references or on the student's own translations. When D waits
for an answer still in flight, the NLL part is back-propagated first so that the teacher's latency hides
behind that work; the gradients add up to those of the single combined backward pass.

With several data-parallel workers every target token must weigh the same, however the tokens fall
across workers: each worker back-propagates its per-token mean times `local tokens · world / global
tokens`, so that DDP's average over workers equals the mean over all their tokens together (one worker on
the union of their batches). With one worker the factor is 1.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from s2s.batching import pad_ids
from s2s.cmlm import random_mask
from s2s.losses import cmlm_loss, nll_loss
from student_trainer.batches import Batch, BatchTensors, to_tensors
from student_trainer.on_policy import policy_batch, sample_exactly, unwrap, unwrap_any
from student_trainer.recipe import LossSpec
from student_trainer.teacher_link import TeacherAPI, WaitClock, candidate_arrays, candidate_logq, topk_tensors
from student_trainer.terms import Answers, DistillTerm, make_term

NoSync = Callable[[], contextlib.AbstractContextManager[Any]]


@dataclass
class Pending:
    """Teacher answers a step waits for, and the candidates the Score request was sent with."""

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


@contextlib.contextmanager
def _eval_mode(model: nn.Module) -> Iterator[None]:
    """Dropout off for a forward and backward pass (the same p that `sample_exactly` sampled from)."""
    plain = unwrap(model)
    was_training = plain.training
    plain.eval()
    try:
        yield
    finally:
        plain.train(was_training)


class Objective:
    """The loss of a recipe: which teacher answers it needs, and how one step computes and back-propagates it."""

    def __init__(self, spec: LossSpec, pad_id: int, teacher: TeacherAPI | None, clock: WaitClock,
                 teacher_model: nn.Module | None = None, seed: int = 0, amp: bool = False, eos_id: int = 0) -> None:
        self.spec, self.pad_id, self.teacher, self.clock = spec, pad_id, teacher, clock
        self.eos_id = eos_id
        self.amp = amp
        self.term: DistillTerm | None = make_term(spec)
        self.weight = self.term.weight if self.term is not None else 0.0
        self.teacher_model = teacher_model
        self._generator = torch.Generator().manual_seed(seed)

    @property
    def prefetchable(self) -> bool:
        """Whether the teacher answer for a batch can be requested before the step (TopK on fixed targets)."""
        return self.term is not None and "topk" in self.term.needs and self.term.rollout == "reference"

    def request(self, batch: Batch) -> Future[Any]:
        """Send the TopK request for `batch` (used by the prefetcher)."""
        assert self.teacher is not None
        return self.teacher.topk_async(batch.src, batch.tgt, self.spec.k)

    def step(self, model: nn.Module, batch: Batch, topk_future: Future[Any] | None, device: torch.device,
             no_sync: NoSync | None = None, global_tokens: int | None = None, world: int = 1) -> dict[str, float]:
        """Forward, loss and backward for one batch; returns the loss parts (per target token of this batch).

        `no_sync` is the DDP model's `no_sync` when there are several workers: then the NLL part is not
        back-propagated separately (DDP reduces gradients once per forward), except on-policy, where the
        reference pass runs entirely under `no_sync` and the policy pass reduces the sum. `global_tokens`
        (all workers' target tokens this step) and `world` set the weight of this worker's mean (see the
        module docstring).
        """
        scale = batch.target_tokens * world / global_tokens if global_tokens else 1.0
        if self.spec.kind == "cmlm":
            return self._cmlm_step(model, batch, device, scale)
        if self.term is None:
            t = to_tensors(batch, self.pad_id, device)
            nll = nll_loss(self._forward(model, t), t.labels, self.pad_id, self.spec.label_smoothing)
            (scale * nll).backward()
            return {"loss": nll.item(), "nll": nll.item()}
        if self.term.rollout != "reference":
            return self._on_policy_step(model, batch, device, no_sync or contextlib.nullcontext, scale)
        t = to_tensors(batch, self.pad_id, device)
        logits = self._forward(model, t)
        nll = nll_loss(logits, t.labels, self.pad_id, self.spec.label_smoothing)
        pending = self._requests(batch, logits, t, topk_future)
        nll_done = False
        if no_sync is None and self.weight < 1.0 and pending.in_flight():
            (scale * (1.0 - self.weight) * nll).backward(retain_graph=True)
            nll_done = True
        distill = self.term(logits, t, self._answers(pending, logits, t))
        total = self.weight * distill if nll_done else (1.0 - self.weight) * nll + self.weight * distill
        (scale * total).backward()
        return self._parts(nll, distill)

    def _cmlm_step(self, model: nn.Module, batch: Batch, device: torch.device, scale: float) -> dict[str, float]:
        """Mask a uniform number of each target's tokens (without its `</s>`) and learn to fill them in, plus
        the target's length (`s2s.losses.cmlm_loss`)."""
        plain = unwrap_any(model)
        targets = [t[:-1] if len(t) > 1 and t[-1] == self.eos_id else t for t in batch.tgt]
        inputs, masked = random_mask(targets, plain.mask_id, self._generator)
        src, src_mask = (x.to(device) for x in pad_ids(batch.src, self.pad_id))
        dec_in, dec_mask = (x.to(device) for x in pad_ids(inputs, self.pad_id))
        labels, _ = pad_ids(targets, self.pad_id)
        mask_t, _ = pad_ids([[int(m) for m in row] for row in masked], 0)
        token_logits, length_logprobs = model(input_ids=src, attention_mask=src_mask, decoder_input_ids=dec_in,
                                              decoder_attention_mask=dec_mask)
        lengths = torch.tensor([len(t) for t in targets], device=device)
        total, token, length = cmlm_loss(token_logits, labels.to(device), mask_t.to(device).bool(),
                                         length_logprobs, lengths, self.pad_id, self.spec.label_smoothing)
        (scale * total).backward()
        return {"loss": total.item(), "nll": token.item(), "length": length.item()}

    def _on_policy_step(self, model: nn.Module, batch: Batch, device: torch.device,
                        sync_off: NoSync, scale: float) -> dict[str, float]:
        """NLL on the reference, then the distillation term on the student's own outputs for the same sources."""
        assert self.term is not None
        with sync_off():
            t = to_tensors(batch, self.pad_id, device)
            nll = nll_loss(self._forward(model, t), t.labels, self.pad_id, self.spec.label_smoothing)
            (scale * (1.0 - self.weight) * nll).backward()
        exact = self.term.rollout == "exact_sample"
        own = (sample_exactly(model, batch, self.pad_id, device, self._generator) if exact
               else policy_batch(model, batch, self.pad_id, self.term.rollout == "sample", device))
        own_t = to_tensors(own, self.pad_id, device)
        with _eval_mode(model) if exact else contextlib.nullcontext():
            logits = self._forward(model, own_t)
            distill = self.term(logits, own_t, self._answers(self._requests(own, logits, own_t, None), logits, own_t))
            (scale * self.weight * distill).backward()
        return self._parts(nll, distill)

    def _parts(self, nll: torch.Tensor, distill: torch.Tensor) -> dict[str, float]:
        return {"loss": ((1.0 - self.weight) * nll + self.weight * distill).item(), "nll": nll.item(),
                "distill": distill.item()}

    def _requests(self, batch: Batch, logits: torch.Tensor, t: BatchTensors,
                  topk_future: Future[Any] | None) -> Pending:
        """Every teacher answer the term needs: TopK (possibly prefetched) and Score, sent now."""
        assert self.term is not None
        pending = Pending()
        if "topk" in self.term.needs:
            pending.topk = topk_future if topk_future is not None else self.request(batch)
        if "score" in self.term.needs:
            assert self.teacher is not None
            gen = self._generator if logits.device.type == "cpu" else None
            pending.cands = self.term.candidates(logits, t, gen)
            pending.score = self.teacher.score_async(batch.src, batch.tgt,
                                                     candidate_arrays(pending.cands, [len(x) for x in batch.tgt]))
        return pending

    def _answers(self, pending: Pending, logits: torch.Tensor, t: BatchTensors) -> Answers:
        """Wait for the pending answers and turn them into tensors on the logits' device."""
        assert self.term is not None
        topk = (topk_tensors(self.clock.wait(pending.topk), logits.shape[1], logits.device)
                if pending.topk is not None else None)
        cands = pending.cands
        logq = (candidate_logq(self.clock.wait(pending.score), _shape3(cands), logits.device)
                if pending.score is not None and cands is not None else None)
        full = self._teacher_logits(t) if "full_logits" in self.term.needs else None
        return Answers(topk=topk, cands=cands, cand_logq=logq, teacher_logits=full)

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


def _shape3(t: torch.Tensor) -> tuple[int, int, int]:
    return int(t.shape[0]), int(t.shape[1]), int(t.shape[2])
