"""Corpus-level evaluation: BLEU and chrF (sacrebleu, with signatures) and decoding speed."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

import sacrebleu
from transformers import MarianMTModel

if TYPE_CHECKING:
    from s2s.ct2_runtime import Ct2Model

from s2s.decoding import generate_nbest
from s2s.families.base import SeqTokenizer, max_positions


@dataclass(frozen=True)
class Scores:
    """BLEU and chrF of hypotheses against one reference each, with sacrebleu's signatures."""

    bleu: float
    chrf: float
    bleu_signature: str
    chrf_signature: str


@dataclass(frozen=True)
class EvalResult:
    """Quality and speed of one decoding setting over a test set."""

    decoding: str
    sentences: int
    scores: Scores
    seconds: float
    sentences_per_s: float
    tokens_per_s: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def score_corpus(hypotheses: Sequence[str], references: Sequence[str]) -> Scores:
    """sacrebleu's corpus BLEU (13a, exp smoothing) and chrF, as its command line computes them."""
    if len(hypotheses) != len(references):
        raise ValueError(f"{len(hypotheses)} hypotheses for {len(references)} references")
    bleu, chrf = sacrebleu.BLEU(), sacrebleu.CHRF()
    b = bleu.corpus_score(list(hypotheses), [list(references)])
    c = chrf.corpus_score(list(hypotheses), [list(references)])
    return Scores(b.score, c.score, str(bleu.get_signature()), str(chrf.get_signature()))


def evaluate_decoding(model: MarianMTModel, tokenizer: SeqTokenizer, sources: Sequence[str],
                      references: Sequence[str], beam_size: int, max_len: int = 256,
                      max_tokens: int = 4096, progress: bool = True, iterations: int = 10,
                      length_beam: int = 5) -> tuple[EvalResult, list[str]]:
    """Translate `sources` with one beam size (an autoregressive model) or with mask-predict at
    `iterations` and `length_beam` (a CMLM); returns the result and the hypotheses (input order)."""
    from s2s.cmlm import CMLMModel
    from s2s.mask_predict import mask_predict

    src_ids = tokenizer.encode_batch(sources, "source", max_len=max_positions(model.config))
    start = time.perf_counter()
    if isinstance(model, CMLMModel):
        outs = mask_predict(model, src_ids, tokenizer.pad_id, iterations, length_beam,
                            min(max_len, int(model.config.max_position_embeddings)), max_tokens)
        ids = [o.ids for o in outs]
        name = f"mask-predict T={iterations} l={length_beam}"
    else:
        hyps = generate_nbest(model, src_ids, tokenizer.pad_id, beam_size, 1, max_len, max_tokens, progress,
                              forced_bos_id=tokenizer.forced_bos_id)
        ids = [h[0].ids for h in hyps]
        name = "greedy" if beam_size == 1 else f"beam{beam_size}"
    seconds = time.perf_counter() - start
    texts = [tokenizer.decode(i) for i in ids]
    out_tokens = sum(len(i) for i in ids)
    result = EvalResult(name, len(texts), score_corpus(texts, references), seconds,
                        len(texts) / seconds, out_tokens / seconds)
    return result, texts


def evaluate_export(model: Ct2Model, sources: Sequence[str], references: Sequence[str], beam_size: int,
                    max_len: int = 256, max_batch_size: int = 32) -> tuple[EvalResult, list[str]]:
    """Like `evaluate_decoding`, through a CTranslate2 export (`max_batch_size` sentences per call)."""
    start = time.perf_counter()
    texts = model.translate(list(sources), beam_size=beam_size, max_len=max_len, max_batch_size=max_batch_size)
    seconds = time.perf_counter() - start
    out_tokens = sum(len(model.tokenizer.encode_target(t, max_len)) for t in texts)
    name = "greedy" if beam_size == 1 else f"beam{beam_size}"
    result = EvalResult(name, len(texts), score_corpus(texts, references), seconds,
                        len(texts) / seconds, out_tokens / seconds)
    return result, texts
