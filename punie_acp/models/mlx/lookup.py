"""Prompt-lookup drafts: guess the next tokens by finding the latest tokens earlier in the context.

A coding agent's output copies its own context (an edit's `old_text` is the file it just read,
`new_text` mostly repeats it, answers quote code), so the tokens that followed the last time the
latest n tokens appeared are a good guess for what comes next. The history searched is the whole
session as the model sees it (system prompt, every tool result, earlier replies) plus what this
reply has generated so far.

The search is one vectorised comparison over the history per query (tens of microseconds for
30,000 tokens), so nothing is indexed and a turn starts without setup. Of the matches the longest
n-gram wins (up to `ngram`, at least `min(2, ngram)` tokens), then the most recent.

Adaptive length: a fully accepted draft doubles the next one (up to `max_draft`), a partly
accepted one sets it to what was accepted plus one, and a draft with nothing accepted (or a match
that led nowhere) pauses drafting for 1, 2, 4 … 32 tokens, so text with nothing to copy soon stops
paying for verification it does not use.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

LONGEST_PAUSE = 32


@dataclass(frozen=True)
class LookupConfig:
    max_draft: int = 8  # most tokens drafted per verification
    ngram: int = 3  # longest n-gram matched

    def __post_init__(self) -> None:
        if self.max_draft < 1 or self.ngram < 1:
            raise ValueError(f"prompt lookup needs max_draft ≥ 1 and ngram ≥ 1, not {self.max_draft}, {self.ngram}")


@dataclass
class LookupCounts:
    """What drafting did in one reply (reported in `JobStats`)."""

    verifications: int = 0  # forward passes that checked a draft
    drafted: int = 0  # draft tokens checked
    accepted: int = 0  # draft tokens the model agreed with


class PromptLookup:
    """The history of one reply's context and the drafting state; model thread only."""

    def __init__(self, history: list[int], config: LookupConfig, capacity: int) -> None:
        self.config = config
        self._tokens = np.zeros(max(capacity, len(history)) + 1, dtype=np.int64)
        self._tokens[: len(history)] = history
        self._size = len(history)
        self._length = config.max_draft
        self._misses = 0
        self._pause = 0  # tokens to go before drafting again

    def __len__(self) -> int:
        return self._size

    def append(self, token: int) -> None:
        if self._size == len(self._tokens):
            self._tokens = np.concatenate([self._tokens, np.zeros_like(self._tokens)])
        self._tokens[self._size] = token
        self._size += 1
        if self._pause:
            self._pause -= 1

    @property
    def paused(self) -> bool:
        return self._pause > 0

    def draft(self, limit: int) -> list[int]:
        """Up to `limit` tokens that followed the latest match of the history's last tokens."""
        limit = min(limit, self._length)
        if limit < 1 or self._pause:
            return []
        start = self._match()
        if start is None:
            return []
        end = min(start + limit, self._size)
        return [int(t) for t in self._tokens[start:end]]

    def record(self, drafted: int, accepted: int) -> None:
        """The outcome of verifying a draft (or `drafted == 0`: a match that gave no draft)."""
        if accepted > 0:
            self._misses = 0
            self._length = min(self.config.max_draft, 2 * self._length if accepted == drafted else accepted + 1)
            return
        self._misses += 1
        self._length = 1
        self._pause = min(LONGEST_PAUSE, 1 << (self._misses - 1))

    def _match(self) -> int | None:
        """Where the continuation of the best earlier match of the history's suffix starts."""
        size, tokens = self._size, self._tokens
        longest = min(self.config.ngram, size - 1)
        shortest = min(2, self.config.ngram)
        if longest < shortest:
            return None
        # Earlier positions holding the last token (the last position itself excluded).
        ends = np.flatnonzero(tokens[: size - 1] == tokens[size - 1])
        if ends.size == 0:
            return None
        matched = np.ones(ends.size, dtype=np.int64)
        alive = np.ones(ends.size, dtype=bool)
        for back in range(1, longest):
            earlier = ends - back
            ok = alive & (earlier >= 0)
            ok[ok] = tokens[earlier[ok]] == tokens[size - 1 - back]
            alive = ok
            matched += alive
        best = int(matched.max())
        if best < shortest:
            return None
        return int(ends[np.flatnonzero(matched == best)[-1]]) + 1
