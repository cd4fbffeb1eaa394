"""What distillation does to a corpus: complexity C(d) and faithfulness F(d) (Zhou, Gu & Neubig, ICLR 2020).

Both come from lexical translation tables p(y|x) of an alignment model trained on the corpus; here IBM
Model 1 (EM with a NULL source word, uniform start), on lower-cased words. Complexity approximates the
conditional entropy H(Y|X) as the mean entropy of the words' translation distributions,

    C(d) = (1/|V_x|) Σ_x H(y|x),   H(y|x) = -Σ_y p(y|x) ln p(y|x)          [nats]

over the source words seen at least `min_count` times (rare words would dominate an unweighted mean; the
frequency-weighted mean is reported too). Faithfulness of a distilled corpus d to the real one r is the mean
KL from the real translation distributions to the distilled ones,

    F(d) = (1/|V_x|) Σ_x Σ_y p_r(y|x) ln(p_r(y|x) / p_d(y|x))              [nats]

with p_d floored at `floor` (and renormalised) so that F stays finite. Lower C: simpler, more deterministic
targets (what a non-autoregressive student needs); lower F: closer to the real data.
"""

from __future__ import annotations

import math
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

NULL = "<null>"
Table = dict[str, dict[str, float]]
_WORD = re.compile(r"\w+|[^\w\s]")


def words(text: str) -> list[str]:
    """Lower-cased words and punctuation marks, the same tokenisation for every corpus compared."""
    return _WORD.findall(text.lower())


def ibm1(pairs: Sequence[tuple[Sequence[str], Sequence[str]]], iterations: int = 5, null: bool = True,
         prune: float = 1e-4) -> Table:
    """IBM Model 1 translation table t(y|x) by EM, pruned below `prune` and renormalised per source word."""
    t: Table = defaultdict(dict)
    for src, tgt in pairs:  # uniform start over the target words each source word co-occurs with
        for x in ([NULL] if null else []) + list(src):
            for y in tgt:
                t[x][y] = 1.0
    t = {x: {y: 1.0 / len(ys) for y in ys} for x, ys in t.items()}
    for _ in range(iterations):
        counts: Table = defaultdict(lambda: defaultdict(float))
        for src, tgt in pairs:
            sources = ([NULL] if null else []) + list(src)
            for y in tgt:
                norm = sum(t[x][y] for x in sources)
                for x in sources:
                    counts[x][y] += t[x][y] / norm
        t = {x: {y: c / sum(ys.values()) for y, c in ys.items()} for x, ys in counts.items()}
    return _prune(t, prune)


def _prune(t: Table, floor: float) -> Table:
    out = {}
    for x, ys in t.items():
        kept = {y: p for y, p in ys.items() if p >= floor} or ys
        total = sum(kept.values())
        out[x] = {y: p / total for y, p in kept.items()}
    return out


def entropy(dist: dict[str, float]) -> float:
    """H in nats of a distribution given as {outcome: probability}."""
    return -sum(p * math.log(p) for p in dist.values() if p > 0)


def kl(real: dict[str, float], distilled: dict[str, float], floor: float = 1e-6) -> float:
    """KL(real ‖ distilled) in nats, the distilled distribution floored at `floor` and renormalised."""
    support = set(real) | set(distilled)
    floored = {y: max(distilled.get(y, 0.0), floor) for y in support}
    total = sum(floored.values())
    return sum(p * math.log(p / (floored[y] / total)) for y, p in real.items() if p > 0)


@dataclass(frozen=True)
class CorpusStats:
    """Complexity of one corpus, and its faithfulness to a reference corpus when one was given (nats)."""

    sentences: int
    source_words: int
    complexity: float
    complexity_weighted: float
    faithfulness: float | None = None
    faithfulness_weighted: float | None = None


def source_counts(pairs: Iterable[tuple[Sequence[str], Sequence[str]]]) -> Counter[str]:
    return Counter(x for src, _ in pairs for x in src)


def complexity(t: Table, counts: Counter[str], min_count: int = 1) -> tuple[float, float, int]:
    """(mean H(y|x), frequency-weighted mean, number of source words) over words seen `min_count` times."""
    vocab = [x for x, n in counts.items() if n >= min_count and x in t]
    if not vocab:
        return 0.0, 0.0, 0
    plain = sum(entropy(t[x]) for x in vocab) / len(vocab)
    weighted = sum(counts[x] * entropy(t[x]) for x in vocab) / sum(counts[x] for x in vocab)
    return plain, weighted, len(vocab)


def faithfulness(real: Table, distilled: Table, counts: Counter[str], min_count: int = 1,
                 floor: float = 1e-6) -> tuple[float, float]:
    """(mean KL(p_r(.|x) ‖ p_d(.|x)), frequency-weighted mean) over source words both tables know."""
    vocab = [x for x, n in counts.items() if n >= min_count and x in real and x in distilled]
    if not vocab:
        return 0.0, 0.0
    values = {x: kl(real[x], distilled[x], floor) for x in vocab}
    return (sum(values.values()) / len(vocab),
            sum(counts[x] * v for x, v in values.items()) / sum(counts[x] for x in vocab))


def corpus_stats(pairs: Sequence[tuple[str, str]], reference: Sequence[tuple[str, str]] | None = None,
                 iterations: int = 5, min_count: int = 5) -> CorpusStats:
    """C(d) of `pairs` and, given the real corpus `reference` (same sources), F(d) against it."""
    tokenised = [(words(s), words(t)) for s, t in pairs]
    counts = source_counts(tokenised)
    table = ibm1(tokenised, iterations)
    plain, weighted, vocab = complexity(table, counts, min_count)
    faith: tuple[float | None, float | None] = (None, None)
    if reference is not None:
        real = [(words(s), words(t)) for s, t in reference]
        faith = faithfulness(ibm1(real, iterations), table, source_counts(real), min_count)
    return CorpusStats(len(pairs), vocab, plain, weighted, *faith)
