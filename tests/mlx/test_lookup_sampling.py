"""With sampling, prompt-lookup decoding draws from the model's own distribution (statistically).

A tiny Markov "model" (the next token's logits depend only on the previous token; TEST DOUBLE,
no weights) runs through the real `lookup_stream` with mlx-lm's sampler, from a context that
makes drafts likely; the frequencies of the 3-token continuations it samples are compared with
the exact probabilities by a chi-square test (seeded, with a generous bound).
"""

from __future__ import annotations

import itertools
import math
from typing import Any

import numpy as np

from punie_acp.models.mlx.cache import cache_offset
from punie_acp.models.mlx.lookup import LookupConfig, LookupCounts, PromptLookup
from punie_acp.models.mlx.verify import lookup_stream

# P[a, b]: probability that b follows a. The cycle 0→1→2→0 is likely, but never certain.
P = np.array([[0.1, 0.7, 0.2], [0.15, 0.15, 0.7], [0.6, 0.3, 0.1]])
HISTORY = [0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 1, 2]
LENGTH = 3
DRAWS = 3000


class MarkovCache:
    """TEST DOUBLE of an mlx-lm KV cache: only the token count, trimmable like a `KVCache`."""

    def __init__(self) -> None:
        self.offset = 0

    def is_trimmable(self) -> bool:
        return True

    def trim(self, n: int) -> int:
        n = min(self.offset, n)
        self.offset -= n
        return n


class MarkovModel:
    """TEST DOUBLE of a model: logits log P[previous token], one row per input position."""

    def __init__(self) -> None:
        import mlx.core as mx

        self.table = mx.array(np.log(P).astype(np.float32))

    def __call__(self, inputs: Any, cache: list[MarkovCache]) -> Any:
        cache[0].offset += int(inputs.shape[1])
        return self.table[inputs]


def sample_continuations(accept_all: bool = False) -> tuple[dict[tuple[int, ...], int], LookupCounts]:
    import mlx.core as mx
    from mlx_lm.sample_utils import make_sampler

    mx.random.seed(0)
    model, sampler, counts = MarkovModel(), make_sampler(temp=1.0), LookupCounts()
    seen: dict[tuple[int, ...], int] = {}
    for _ in range(DRAWS):
        cache = [MarkovCache()]
        cache[0].offset = len(HISTORY) - 1
        lookup = PromptLookup(HISTORY, LookupConfig(max_draft=4, ngram=2), capacity=len(HISTORY) + LENGTH)
        out = tuple(lookup_stream(model, cache, HISTORY, LENGTH, sampler, [], lookup, counts))
        assert len(out) == LENGTH and cache_offset(cache) <= len(HISTORY) + LENGTH
        seen[out] = seen.get(out, 0) + 1
    return seen, counts


def chi_square(seen: dict[tuple[int, ...], int]) -> tuple[float, int]:
    statistic, cells = 0.0, 0
    for sequence in itertools.product(range(3), repeat=LENGTH):
        p, previous = 1.0, HISTORY[-1]
        for token in sequence:
            p, previous = p * P[previous, token], token
        expected = p * DRAWS
        statistic += (seen.get(sequence, 0) - expected) ** 2 / expected
        cells += 1
    return statistic, cells - 1


def bound(dof: int, z: float = 4.0) -> float:
    """Wilson–Hilferty: the chi-square quantile at a normal z (4.0: p ≈ 3e-5, a generous bound)."""
    return dof * (1 - 2 / (9 * dof) + z * math.sqrt(2 / (9 * dof))) ** 3


def test_sampled_continuations_follow_the_models_distribution() -> None:
    seen, counts = sample_continuations()
    assert counts.verifications > DRAWS // 2 and 0 < counts.accepted < counts.drafted  # drafts were made, some kept
    statistic, dof = chi_square(seen)
    assert statistic < bound(dof), (statistic, bound(dof), seen)
