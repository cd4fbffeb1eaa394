"""Beam search over several decoders at once: an ensemble's n-best lists.

At every step each member's decoder advances one token on its own key/value cache, and the next-token
distribution is the weighted mean of the members' probabilities (`logsumexp_i(log q_i + log w_i)`). The
search follows Hugging Face's beam search as `s2s.decoding.generate_nbest` calls it, so an ensemble ranks
and scores like one model: `2 * beam` candidates per step, a hypothesis that ends in `</s>` among the best
`beam` candidates is finished with score `sum(log q) / length` (length penalty 1, `</s>` counted), the
search of a sentence stops once `beam` hypotheses are finished (early stopping), the target language's
code is forced first where the family has one and `</s>` at the length cap. At beam 1 this is greedy
decoding of the averaged model. Members may differ in family and decoder start token; they share the
vocabulary (`s2s.teacher.ensemble.check_members`).
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
from transformers.modeling_outputs import BaseModelOutput

from s2s.batching import length_sorted_batches, pad_ids
from s2s.decoding import Hypothesis

_DEAD = -1.0e9  # score of beams that must never win (HF's value, so that ties break alike)


@dataclass
class _Member:
    """One member's side of a batch: its encoder states repeated per beam, its cache, its start token."""

    model: Any
    encoder: BaseModelOutput
    start_id: int
    cache: Any = None

    def step(self, last: torch.Tensor | None, mask: torch.Tensor) -> torch.Tensor:
        """Log-probabilities [rows, V] of the next token after `last` (None: the first step)."""
        rows = mask.shape[0]
        tokens = (torch.full((rows, 1), self.start_id, dtype=torch.long, device=mask.device)
                  if last is None else last[:, None])
        name = _cache_argument(self.model)
        out = self.model(encoder_outputs=self.encoder, attention_mask=mask, decoder_input_ids=tokens,
                         use_cache=True, **{name: self.cache})
        self.cache = out[name]
        return torch.log_softmax(out.logits[:, -1].float(), dim=-1)


def _cache_argument(model: Any) -> str:
    """What the model's forward calls its key/value cache: `cache` from transformers 5.2x (which deprecates
    `past_key_values`), `past_key_values` before."""
    return "cache" if "cache" in inspect.signature(model.forward).parameters else "past_key_values"


@torch.inference_mode()
def ensemble_nbest(models: Sequence[Any], log_weights: Sequence[float], src_ids: Sequence[Sequence[int]],
                   pad_id: int, beam_size: int, nbest: int, max_len: int, max_tokens: int = 4096,
                   forced_bos_id: int | None = None) -> list[list[Hypothesis]]:
    """The `nbest` best outputs of the ensemble for every source, in input order (see the module docstring)."""
    if not 1 <= nbest <= beam_size:
        raise ValueError(f"nbest must be between 1 and beam_size ({beam_size}), got {nbest}")
    results: list[list[Hypothesis]] = [[] for _ in src_ids]
    for batch in length_sorted_batches([len(s) for s in src_ids], max_tokens // max(beam_size, 1)):
        found = _search(models, log_weights, [src_ids[i] for i in batch], pad_id, beam_size, nbest, max_len,
                        forced_bos_id)
        for i, hyps in zip(batch, found, strict=True):
            results[i] = hyps
    return results


def _mixture(members: Sequence[_Member], log_weights: Sequence[float], last: torch.Tensor | None,
             mask: torch.Tensor) -> torch.Tensor:
    mixed: torch.Tensor | None = None
    for member, log_w in zip(members, log_weights, strict=True):
        logq = member.step(last, mask) + log_w
        mixed = logq if mixed is None else torch.logaddexp(mixed, logq)
    assert mixed is not None
    return mixed


def _force(logq: torch.Tensor, token: int) -> None:
    """Only `token` may follow (probability one), as Hugging Face's forced-token processors do."""
    logq.fill_(float("-inf"))
    logq[:, token] = 0.0


def _search(models: Sequence[Any], log_weights: Sequence[float], sources: Sequence[Sequence[int]], pad_id: int,
            beam: int, nbest: int, max_len: int, forced_bos_id: int | None) -> list[list[Hypothesis]]:
    device = next(models[0].parameters()).device
    eos = int(models[0].config.eos_token_id)
    ids, _ = pad_ids(sources, pad_id)
    lengths = torch.tensor([len(s) for s in sources])
    mask = (torch.arange(ids.shape[1])[None, :] < lengths[:, None]).long()
    ids, mask = ids.to(device), mask.to(device)
    b = len(sources)
    members = []
    for model in models:
        encoded = model.get_encoder()(input_ids=ids, attention_mask=mask, return_dict=True)
        states = encoded.last_hidden_state.repeat_interleave(beam, dim=0)
        start = model.config.decoder_start_token_id
        members.append(_Member(model, BaseModelOutput(last_hidden_state=states), int(pad_id if start is None
                                                                                   else start)))
    mask = mask.repeat_interleave(beam, dim=0)
    scores = torch.full((b, beam), _DEAD, device=device)
    scores[:, 0] = 0.0
    tokens = torch.zeros((b * beam, 0), dtype=torch.long, device=device)
    finished: list[list[tuple[float, list[int]]]] = [[] for _ in range(b)]
    done = [False] * b
    for step in range(max_len):
        logq = _mixture(members, log_weights, tokens[:, -1] if step else None, mask)
        if step == 0 and forced_bos_id is not None:
            _force(logq, forced_bos_id)
        if step == max_len - 1:
            _force(logq, eos)
        vocab = logq.shape[-1]
        top_scores, top_index = (scores.reshape(-1, 1) + logq).reshape(b, beam * vocab).topk(2 * beam, dim=-1)
        cand_scores, cand_beams, cand_tokens = (top_scores.tolist(), (top_index // vocab).tolist(),
                                                (top_index % vocab).tolist())
        rows, next_tokens, next_scores = [], [], []
        for s in range(b):
            keep = _advance(s, step, beam, eos, tokens, cand_scores[s], cand_beams[s], cand_tokens[s],
                            finished[s], done[s])
            done[s] = done[s] or len(finished[s]) >= beam
            for score, from_beam, token in keep:
                rows.append(s * beam + from_beam)
                next_tokens.append(token)
                next_scores.append(score)
        if all(done):
            break
        index = torch.tensor(rows, device=device)
        tokens = torch.cat([tokens[index], torch.tensor(next_tokens, device=device)[:, None]], dim=1)
        scores = torch.tensor(next_scores, device=device).reshape(b, beam)
        for member in members:
            member.cache.reorder_cache(index)
    return [_best(finished[s], tokens[s * beam:(s + 1) * beam], scores[s], nbest) for s in range(b)]


def _advance(s: int, step: int, beam: int, eos: int, tokens: torch.Tensor, cand_scores: list[float],
             cand_beams: list[int], cand_tokens: list[int], finished: list[tuple[float, list[int]]],
             done: bool) -> list[tuple[float, int, int]]:
    """One sentence's step: finish the candidates that end in `</s>` (only the best `beam` may), and
    return the `beam` (score, beam, token) continuations that stay open."""
    keep: list[tuple[float, int, int]] = []
    for rank, (score, from_beam, token) in enumerate(zip(cand_scores, cand_beams, cand_tokens, strict=True)):
        if token == eos:
            if rank < beam and not done:
                ids = [*tokens[s * beam + from_beam].tolist(), eos]
                finished.append((score / (step + 1), ids))
                finished.sort(key=lambda item: -item[0])
                del finished[beam:]
        elif len(keep) < beam:
            keep.append((score, from_beam, token))
    while len(keep) < beam:  # fewer open continuations than beams (a tiny vocabulary): pad with dead ones
        keep.append((_DEAD, 0, eos))
    return keep


def _best(finished: list[tuple[float, list[int]]], open_tokens: torch.Tensor, open_scores: torch.Tensor,
          nbest: int) -> list[Hypothesis]:
    """The n best finished hypotheses; open beams fill in where fewer finished (cut by the length cap)."""
    pool = list(finished)
    if len(pool) < nbest:
        length = max(open_tokens.shape[1], 1)
        pool += [(float(score) / length, row.tolist()) for row, score in zip(open_tokens, open_scores, strict=True)]
    pool.sort(key=lambda item: -item[0])
    return [Hypothesis(ids, score) for score, ids in pool[:nbest]]
