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
        held = _partial_suffix(tail, [marker for marker, _ in self._transitions.get(self.state, [])])
        self.pending = tail[len(tail) - held :] if held else ""
        segments.append((self.state, tail[: len(tail) - held]))
        return segments  # empty segments kept: they mark a state entered and left (an empty block)

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


def _partial_suffix(buffer: str, markers: Sequence[str]) -> int:
    """Length of the longest end of `buffer` that is the start of some marker (never a whole one)."""
    longest = 0
    for marker in markers:
        for size in range(min(len(marker) - 1, len(buffer)), longest, -1):
            if buffer.endswith(marker[:size]):
                longest = size
                break
    return longest
