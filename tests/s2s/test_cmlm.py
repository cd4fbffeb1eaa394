"""The Mask-Predict student: masking, the loss, the bidirectional decoder, the schedule and length selection.

Expected values are those of the method notes (shared/research/methods.md, section 1.6).
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import torch
import torch.nn.functional as F

from s2s.batching import pad_ids
from s2s.checkpoint import Manifest, load_checkpoint, save_checkpoint
from s2s.cmlm import CMLMModel, build_cmlm, random_mask
from s2s.losses import cmlm_loss
from s2s.mask_predict import CMLMOutput, mask_predict, remask_counts, top_lengths
from s2s.presets import count_parameters
from s2s.tokenizer import Tokenizer


@pytest.fixture(scope="module")
def cmlm(tokenizer: Tokenizer) -> CMLMModel:
    return build_cmlm("test-micro", tokenizer, seed=4).eval()


def test_random_mask_masks_between_one_and_all_positions_uniformly() -> None:
    generator = torch.Generator().manual_seed(0)
    target = [11, 12, 13, 14, 15]
    counts: Counter[int] = Counter()
    for _ in range(5000):
        inputs, masked = random_mask([target], mask_id=1, generator=generator)
        n = sum(masked[0])
        counts[n] += 1
        assert all((tok == 1) == m for tok, m in zip(inputs[0], masked[0], strict=True))
        assert all(tok == t for tok, t, m in zip(inputs[0], target, masked[0], strict=True) if not m)
    assert set(counts) == {1, 2, 3, 4, 5}
    assert all(abs(c / 5000 - 0.2) < 0.03 for c in counts.values()), counts


def test_the_loss_covers_masked_positions_only_plus_the_length() -> None:
    torch.manual_seed(0)
    logits = torch.randn(2, 4, 9, requires_grad=True)
    targets = torch.tensor([[3, 4, 5, 8], [6, 7, 8, 8]])  # 8 = pad
    masked = torch.tensor([[True, False, True, False], [False, True, False, False]])
    lengths = torch.tensor([3, 2])
    length_logprobs = F.log_softmax(torch.randn(2, 6), -1)
    total, token, length = cmlm_loss(logits, targets, masked, length_logprobs, lengths, pad_id=8,
                                     label_smoothing=0.0, length_weight=0.1)
    reference = F.cross_entropy(logits.reshape(-1, 9), targets.masked_fill(~masked, -100).reshape(-1))
    torch.testing.assert_close(token, reference)
    torch.testing.assert_close(length, -(length_logprobs[0, 3] + length_logprobs[1, 2]) / 2)
    torch.testing.assert_close(total, token + 0.1 * length)
    total.backward()
    assert logits.grad is not None and torch.all(logits.grad[~masked] == 0)  # unmasked logits do not matter


def test_the_decoder_reads_both_directions_and_ignores_padding(cmlm: CMLMModel, tokenizer: Tokenizer) -> None:
    src = torch.tensor([[20, 30, 40, tokenizer.eos_id]])
    src_mask = torch.ones_like(src)
    encoded = cmlm.encode(src, src_mask)
    base = torch.tensor([[50, 60, 70, 80]])
    keep = torch.ones_like(base)
    out = cmlm.decode(base, keep, encoded, src_mask)
    later_changed = cmlm.decode(torch.tensor([[50, 60, 70, 90]]), keep, encoded, src_mask)
    assert not torch.allclose(out[0, 0], later_changed[0, 0])  # position 0 sees position 3: no causal mask
    padded = cmlm.decode(torch.tensor([[50, 60, 70, 80, tokenizer.pad_id, tokenizer.pad_id]]),
                         torch.tensor([[1, 1, 1, 1, 0, 0]]), encoded, src_mask)
    torch.testing.assert_close(padded[0, :4], out[0], atol=1e-5, rtol=1e-5)


def test_length_prediction_pools_real_source_positions_and_never_predicts_zero(cmlm: CMLMModel) -> None:
    src = torch.tensor([[20, 30, 40, 0, 8000, 8000]])
    mask = torch.tensor([[1, 1, 1, 1, 0, 0]])
    encoded = cmlm.encode(src, mask)
    logprobs = cmlm.length_logits(encoded, mask)
    expected = torch.log_softmax(encoded[0, :4].mean(0) @ cmlm.length_embed.weight.t(), -1)
    torch.testing.assert_close(logprobs[0, 1:], torch.log_softmax(expected[1:], -1), atol=1e-5, rtol=1e-4)
    assert logprobs[0, 0].exp() == 0


def test_the_remasking_schedule_is_linear_in_integers() -> None:
    assert remask_counts(10, 10) == [9, 8, 7, 6, 5, 4, 3, 2, 1]
    assert remask_counts(7, 4) == [5, 3, 1]
    assert remask_counts(23, 10) == [20, 18, 16, 13, 11, 9, 6, 4, 2]
    assert remask_counts(2, 10)[-1] == 1 and remask_counts(5, 1) == []
    lengths = top_lengths(torch.log_softmax(torch.tensor([[0.0, 9.0, 1.0, 5.0, 3.0]]), -1), 3, 4)
    assert lengths.tolist() == [[2, 3, 4]]  # the top lengths 1, 3, 4, with 1 clamped up to 2


class _Scripted(CMLMModel):
    """A tiny CMLM whose decoder is replaced by fixed confidences, to watch the algorithm itself."""

    def __init__(self, base: CMLMModel, lengths: dict[int, float], table: dict[int, torch.Tensor]) -> None:
        super().__init__(base.config)
        self._lengths, self._table, self.calls = lengths, table, []  # type: ignore[var-annotated]

    def length_logits(self, encoded: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        scores = torch.full((encoded.shape[0], self.config.length_classes), -1e9)
        for length, score in self._lengths.items():
            scores[:, length] = score
        return torch.log_softmax(scores, -1)

    def decode_hidden(self, decoder_input_ids: torch.Tensor, decoder_mask: torch.Tensor, encoded: torch.Tensor,
                      attention_mask: torch.Tensor) -> torch.Tensor:
        """Scripted logits stand in for the decoder states, and `project` passes them through."""
        self.calls.append(decoder_input_ids.clone())
        out = torch.full((*decoder_input_ids.shape, self.config.vocab_size), -50.0)
        for row in range(decoder_input_ids.shape[0]):
            width = int(decoder_mask[row].sum())
            logits = self._table[width]
            out[row, :width, : logits.shape[1]] = logits
        return out

    def project(self, hidden: torch.Tensor) -> torch.Tensor:
        return hidden


def test_mask_predict_keeps_confident_tokens_and_picks_the_best_mean_score(cmlm: CMLMModel) -> None:
    """Length 3 and 4 candidates: the 4-token one has the larger summed but smaller mean log-probability,
    so mean scoring picks length 3; each later pass re-masks exactly the least confident positions."""
    three = torch.zeros(3, 10)
    three[0, 5], three[1, 6], three[2, 7] = 10.0, 9.0, 4.0  # confidences: position 0 > 1 > 2
    three = torch.log_softmax(three, -1)
    four = torch.zeros(4, 10)
    four[:, 8] = 2.0
    four = torch.log_softmax(four, -1)
    model = _Scripted(cmlm, {3: 0.0, 4: -0.1}, {3: three, 4: four}).eval()
    (out,) = mask_predict(model, [[20, 30, 0]], pad_id=8000, iterations=3, length_beam=2, max_len=10)
    assert isinstance(out, CMLMOutput) and out.ids == [5, 6, 7]
    assert out.score == pytest.approx(float(three.max(-1).values.mean()), abs=1e-6)
    first, second, third = model.calls
    mask = model.mask_id
    assert (first[:, :3] == mask).all()  # pass 1: everything masked
    # pass 2 re-masks floor(3*2/3) = 2 positions of the length-3 candidate: its two least confident (1 and 2)
    row3 = [r for r in range(2) if int((second[r] != 8000).sum()) == 3][0]
    assert second[row3, :3].tolist() == [5, mask, mask] and third[row3, :3].tolist() == [5, 6, mask]


def test_one_iteration_is_one_parallel_pass(cmlm: CMLMModel, tokenizer: Tokenizer) -> None:
    src = [tokenizer.encode_source("Y dijo Dios: Sea la luz.")]
    (once,) = mask_predict(cmlm, src, tokenizer.pad_id, iterations=1, length_beam=1, max_len=12)
    ids = torch.tensor(src)
    encoded = cmlm.encode(ids, torch.ones_like(ids))
    length = int(top_lengths(cmlm.length_logits(encoded, torch.ones_like(ids)), 1, 12)[0, 0])
    masks = torch.full((1, length), cmlm.mask_id)
    argmax = cmlm.decode(masks, torch.ones_like(masks), encoded, torch.ones_like(ids)).argmax(-1)[0].tolist()
    assert once.ids == argmax


def test_later_passes_project_only_the_positions_they_re_predict(cmlm: CMLMModel, tokenizer: Tokenizer,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """The output layer sees every real position on pass 1 and only the re-masked ones after; projecting
    the decoder states is what `decode` does for every position."""
    src = [tokenizer.encode_source("Y dijo Dios: Sea la luz."), tokenizer.encode_source("Y fue la luz.")]
    ids, mask = pad_ids(src, tokenizer.pad_id)
    lengths = top_lengths(cmlm.length_logits(cmlm.encode(ids, mask), mask), 2, 12).reshape(-1).tolist()
    rows: list[int] = []
    original = CMLMModel.project

    def counting(self: CMLMModel, hidden: torch.Tensor) -> torch.Tensor:
        rows.append(hidden.shape[0])
        return original(self, hidden)

    monkeypatch.setattr(CMLMModel, "project", counting)
    outputs = mask_predict(cmlm, src, tokenizer.pad_id, iterations=4, length_beam=2, max_len=12)
    assert rows[0] == sum(lengths)  # pass 1: every real position of every candidate, no padding
    assert rows[1:] == [sum(remask_counts(n, 4)[t] for n in lengths) for t in range(3)]
    assert all(1 <= len(o.ids) <= 12 for o in outputs)
    hidden = cmlm.decode_hidden(ids, mask, cmlm.encode(ids, mask), mask)
    assert torch.allclose(original(cmlm, hidden), cmlm.decode(ids, mask, cmlm.encode(ids, mask), mask))


def test_a_cmlm_checkpoint_round_trips_with_its_identity(cmlm: CMLMModel, tokenizer: Tokenizer, tmp_path: Path,
                                                         reference_teacher_dir: Any) -> None:
    manifest = Manifest(model_id="cmlm-micro", vocab_fingerprint=tokenizer.fingerprint,
                        parameters=count_parameters(cmlm), parent_teacher="teacher-bible-es-en-small")
    save_checkpoint(cmlm, tokenizer, tmp_path / "cmlm", manifest)
    loaded = load_checkpoint(tmp_path / "cmlm")
    assert isinstance(loaded.model, CMLMModel) and loaded.manifest.parent_teacher == "teacher-bible-es-en-small"
    for (name, a), b in zip(cmlm.state_dict().items(), loaded.model.state_dict().values(), strict=True):
        torch.testing.assert_close(a, b, msg=name)
    assert loaded.model.lm_head.weight.data_ptr() == loaded.model.model.shared.weight.data_ptr()  # still tied
