"""Lexical shortlists: the target words a source sentence can plausibly need, for a faster output layer.

The output projection's cost grows with the vocabulary; at d = 256 over 8,001 pieces it is only about 3 % of
the teacher's CTranslate2 int8 time (`bench/output_layer.py`), which is why a shortlist does not pay here. A
shortlist restricts it, per batch, to the union of the candidates of the batch's source tokens plus the most
frequent target tokens (Bergamot's approach). CTranslate2 does this from a vocabulary map: a text file of
lines `source token<TAB>target token target token ...`, where the line with an empty source is always
included. It is given to the converter (`kd export --vmap FILE`) and used when translating (`use_vmap=True`).

The map is built from the co-occurrences of source and target pieces in a parallel corpus (best the
distilled one, whose targets are what the student learnt to say): for every source piece, the target
pieces with the highest conditional probability p(t|s) = C(s, t) / C(s) over sentence pairs; plus the
`frequent` most frequent target pieces for everybody.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from s2s.atomic import write_text_atomic
from s2s.errors import KDError
from s2s.tokenizer import Tokenizer


@dataclass(frozen=True)
class Shortlist:
    """Always-on target pieces and the candidates of each source piece."""

    frequent: tuple[str, ...]
    candidates: dict[str, tuple[str, ...]]

    def for_source(self, pieces: Iterable[str]) -> set[str]:
        """The target pieces allowed for a sentence with these source pieces."""
        allowed = set(self.frequent)
        for piece in pieces:
            allowed.update(self.candidates.get(piece, ()))
        return allowed

    def to_vmap(self) -> str:
        """CTranslate2's vocabulary-map text: the always-on line first (empty source), then one per piece."""
        lines = ["\t" + " ".join(self.frequent)]
        lines += [f"{src}\t{' '.join(tgts)}" for src, tgts in sorted(self.candidates.items()) if src.strip()]
        return "\n".join(lines) + "\n"


def build_shortlist(tokenizer: Tokenizer, pairs: Sequence[tuple[str, str]], per_source: int = 50,
                    frequent: int = 200) -> Shortlist:
    """Co-occurrence shortlist of a parallel corpus (source text, target text), see the module docstring."""
    if per_source < 1 or frequent < 0:
        raise KDError(f"per_source must be >= 1 and frequent >= 0, got {per_source} and {frequent}")
    if not pairs:
        raise KDError("a shortlist needs at least one sentence pair")
    source_count: Counter[str] = Counter()
    target_count: Counter[str] = Counter()
    joint: dict[str, Counter[str]] = {}
    for src, tgt in pairs:
        s_pieces = set(_pieces(tokenizer, src, "source"))
        t_pieces = set(_pieces(tokenizer, tgt, "target"))
        source_count.update(s_pieces)
        target_count.update(t_pieces)
        for s in s_pieces:
            joint.setdefault(s, Counter()).update(t_pieces)
    always = tuple(t for t, _ in target_count.most_common(frequent))
    candidates = {}
    for s, counts in joint.items():
        ranked = sorted(counts.items(), key=lambda item: (-item[1] / source_count[s], item[0]))
        candidates[s] = tuple(t for t, _ in ranked[:per_source])
    return Shortlist(always, candidates)


def write_vmap(shortlist: Shortlist, path: Path) -> Path:
    """Write the vocabulary map atomically; returns its path."""
    write_text_atomic(Path(path), shortlist.to_vmap())
    return Path(path)


def coverage(shortlist: Shortlist, tokenizer: Tokenizer, pairs: Sequence[tuple[str, str]]) -> float:
    """Share of the target pieces of `pairs` that the shortlist of their sources allows (1.0 = no loss)."""
    allowed = total = 0
    for src, tgt in pairs:
        permitted = shortlist.for_source(_pieces(tokenizer, src, "source"))
        pieces = _pieces(tokenizer, tgt, "target")
        allowed += sum(p in permitted for p in pieces)
        total += len(pieces)
    return allowed / total if total else 1.0


def _pieces(tokenizer: Tokenizer, text: str, side: str) -> list[str]:
    ids = tokenizer.encode_source(text, 10_000) if side == "source" else tokenizer.encode_target(text, 10_000)
    return [tokenizer.id_to_piece[i] for i in ids if i not in (tokenizer.eos_id, tokenizer.pad_id)]
