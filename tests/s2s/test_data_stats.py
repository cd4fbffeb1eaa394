"""Complexity and faithfulness on the closed cases of the method notes (shared/research/methods.md, 2.3)."""

from __future__ import annotations

import math
import random
from collections import Counter

import pytest

from s2s.data_stats import complexity, corpus_stats, entropy, faithfulness, ibm1, kl, source_counts, words


def test_single_word_pairs_give_the_closed_form_complexity() -> None:
    """{a->x, a->y, b->z, b->z}: H(y|a) = ln 2, H(y|b) = 0, so C = ln(2)/2 = 0.346574 nats."""
    pairs = [(["a"], ["x"]), (["a"], ["y"]), (["b"], ["z"]), (["b"], ["z"])]
    table = ibm1(pairs, iterations=5, null=False)
    plain, weighted, vocab = complexity(table, source_counts(pairs))
    assert vocab == 2 and plain == pytest.approx(math.log(2) / 2, abs=1e-6) == pytest.approx(0.346574, abs=1e-6)
    assert weighted == pytest.approx(plain)  # both words seen twice
    assert entropy({"x": 0.5, "y": 0.5}) == pytest.approx(math.log(2))


def test_a_deterministic_lexicon_converges_to_zero_complexity() -> None:
    rng = random.Random(0)
    lexicon = {f"s{i}": f"t{i}" for i in range(12)}
    pairs = []
    for _ in range(300):
        src = rng.sample(sorted(lexicon), 4)
        tgt = [lexicon[w] for w in src]
        rng.shuffle(tgt)
        pairs.append((src, tgt))
    values = [complexity(ibm1(pairs, n, null=False), source_counts(pairs))[0] for n in (1, 5, 50)]
    assert values[0] > values[1] > values[2] and values[2] < 1e-3


def test_faithfulness_closed_form_zero_on_itself_and_nonnegative() -> None:
    """Real a->{x .5, y .5} against distilled a->{x .9, y .1}, b identical: KL 0.510826 for a, F = 0.255413."""
    real = {"a": {"x": 0.5, "y": 0.5}, "b": {"z": 1.0}}
    distilled = {"a": {"x": 0.9, "y": 0.1}, "b": {"z": 1.0}}
    counts = Counter({"a": 1, "b": 1})
    assert kl(real["a"], distilled["a"]) == pytest.approx(0.510826, abs=1e-6)
    assert faithfulness(real, distilled, counts)[0] == pytest.approx(0.255413, abs=1e-6)
    assert faithfulness(real, real, counts) == (0.0, 0.0)
    assert kl({"x": 1.0}, {"y": 1.0}) > 0  # a missing word is floored, never infinite


def test_corpus_statistics_ignore_sentence_order_and_see_a_simpler_corpus() -> None:
    real = [("el gato", "the cat"), ("el perro", "the dog"), ("un gato", "a cat"), ("el gato", "this cat")] * 5
    simpler = [("el gato", "the cat"), ("el perro", "the dog"), ("un gato", "a cat"), ("el gato", "the cat")] * 5
    shuffled = list(reversed(real))
    a, b = corpus_stats(real, min_count=1), corpus_stats(shuffled, min_count=1)
    assert a.complexity == pytest.approx(b.complexity) and a.sentences == 20
    distilled = corpus_stats(simpler, reference=real, min_count=1)
    assert distilled.complexity < a.complexity
    assert distilled.faithfulness is not None and distilled.faithfulness > 0
    assert corpus_stats(real, reference=real, min_count=1).faithfulness == pytest.approx(0.0, abs=1e-9)
    assert words("Y dijo Dios: ¡Sea la luz!") == ["y", "dijo", "dios", ":", "¡", "sea", "la", "luz", "!"]
