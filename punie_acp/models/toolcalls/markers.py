"""Split streamed text at control markers (`<think>`, `<tool_call>`, …) whatever the chunk boundaries.

The same job as mlx-lm's `TextStateMachine`, without importing mlx (the OpenAI-compatible backend
uses it too): each state has the markers that leave it; a marker is stripped from the output and
switches the state; text that could still be the start of a marker is held back (at most one
marker's length), everything else comes out at once.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

Transitions = Mapping[str, Sequence[tuple[str, str]]]


class MarkerMachine:
    def __init__(self, transitions: Transitions, initial: str) -> None:
        self._transitions = {state: list(edges) for state, edges in transitions.items()}
        # Per state, every proper start of one of its markers: what may have to be held back.
        self._starts = {
            state: frozenset(marker[:size] for marker, _ in edges for size in range(1, len(marker)))
            for state, edges in self._transitions.items()
        }
        self._first_chars = {
            state: "".join({m[0] for m, _ in edges if m}) for state, edges in self._transitions.items()
        }
        self._longest = max((len(m) - 1 for edges in self._transitions.values() for m, _ in edges), default=0)
        self.state = initial
        self.pending = ""  # text held back: it may be the start of a marker

    def reset(self, state: str) -> str:
        """Switch to `state` dropping nothing: returns the held-back text for the caller to re-feed."""
        held, self.pending, self.state = self.pending, "", state
        return held

    def split(self, text: str) -> list[tuple[str, str]]:
        """(state, text) segments for `text`; a marker ends one segment and starts the next.

        Linear in the text: each marker's next position is searched once and kept until passed,
        so a piece holding thousands of markers costs no more than one scan per marker kind.
        """
        if not self.pending and not any(c in text for c in self._first_chars.get(self.state, "")):
            return [(self.state, text)]  # the common case: no marker can start in this piece
        buffer = self.pending + text
        segments: list[tuple[str, str]] = []
        at = 0
        next_at: dict[str, int] = {}
        while (found := self._next_marker(buffer, at, next_at)) is not None:
            where, marker, target = found
            segments.append((self.state, buffer[at:where]))
            at = where + len(marker)
            self.state = target
            segments.append((self.state, ""))
        tail = buffer[at:]
        held = self._partial_suffix(tail)
        self.pending = tail[len(tail) - held :] if held else ""
        segments.append((self.state, tail[: len(tail) - held]))
        return segments  # empty segments kept: they mark a state entered and left (an empty block)

    def _partial_suffix(self, tail: str) -> int:
        """Length of the longest end of `tail` that starts a marker of this state (never a whole one)."""
        starts = self._starts.get(self.state, frozenset())
        for size in range(min(self._longest, len(tail)), 0, -1):
            if tail[-size:] in starts:
                return size
        return 0

    def _next_marker(self, buffer: str, at: int, next_at: dict[str, int]) -> tuple[int, str, str] | None:
        best: tuple[int, str, str] | None = None
        for marker, target in self._transitions.get(self.state, []):
            where = next_at.get(marker)
            if where is None or 0 <= where < at:  # not searched yet, or passed: search from here
                where = next_at[marker] = buffer.find(marker, at)
            if where < 0:
                continue
            if best is None or where < best[0] or (where == best[0] and len(marker) > len(best[1])):
                best = (where, marker, target)
        return best

    def flush(self) -> str:
        """The held-back text, at the end of the stream (it never became a marker)."""
        rest, self.pending = self.pending, ""
        return rest
