"""Degenerate-repetition guard: ends a generation stuck in a loop.

Rule: generation ends once the latest tokens are an exact repetition of a block of `p` tokens
(1 ≤ p ≤ `max_period`), repeated back to back for at least `min_span` tokens and at least
`repeats` times. With the defaults: one token 96 times, a 16-token block 6 times, a 64-token
block 4 times. Legitimate output practically never repeats a block verbatim like that (real text
and code vary: numbers, names); a looping model does exactly that until `max_tokens`. The response
then ends with finish reason `'length'` (the model did not choose to stop).

Checked incrementally in O(max_period) per token.
"""

from __future__ import annotations

from collections import deque


class RepetitionGuard:
    def __init__(self, min_span: int = 96, repeats: int = 4, max_period: int = 64) -> None:
        self.max_period = max_period
        # A period-p repetition covering n tokens means the last n - p tokens each equal the
        # token p positions earlier: that run length is what is tracked per period.
        self._needed = [max(min_span - p, (repeats - 1) * p) for p in range(1, max_period + 1)]
        self._recent: deque[int] = deque(maxlen=max_period)
        self._runs = [0] * max_period
        self.tripped = False

    def add(self, token: int) -> bool:
        """Record a generated token; True once the output has become degenerate."""
        recent, runs = self._recent, self._runs
        size = len(recent)
        for index in range(self.max_period):
            period = index + 1
            if period <= size and recent[size - period] == token:
                runs[index] += 1
                if runs[index] >= self._needed[index]:
                    self.tripped = True
            else:
                runs[index] = 0
        recent.append(token)
        return self.tripped
