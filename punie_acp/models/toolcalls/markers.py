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
        """(state, text) segments for `text`; a marker ends one segment and starts the next."""
        buffer = self.pending + text
        segments: list[tuple[str, str]] = []
        while True:
            edges = self._transitions.get(self.state, [])
            found = _first_marker(buffer, edges)
            if found is None:
                break
            at, marker, target = found
            segments.append((self.state, buffer[:at]))
            buffer = buffer[at + len(marker) :]
            self.state = target
            segments.append((self.state, ""))
        held = _partial_suffix(buffer, [marker for marker, _ in self._transitions.get(self.state, [])])
        self.pending = buffer[len(buffer) - held :] if held else ""
        segments.append((self.state, buffer[: len(buffer) - held]))
        return segments  # empty segments kept: they mark a state entered and left (an empty block)

    def flush(self) -> str:
        """The held-back text, at the end of the stream (it never became a marker)."""
        rest, self.pending = self.pending, ""
        return rest


def _first_marker(buffer: str, edges: Sequence[tuple[str, str]]) -> tuple[int, str, str] | None:
    best: tuple[int, str, str] | None = None
    for marker, target in edges:
        at = buffer.find(marker)
        if at < 0:
            continue
        if best is None or at < best[0] or (at == best[0] and len(marker) > len(best[1])):
            best = (at, marker, target)
    return best


def _partial_suffix(buffer: str, markers: Sequence[str]) -> int:
    """Length of the longest end of `buffer` that is the start of some marker (never a whole one)."""
    longest = 0
    for marker in markers:
        for size in range(min(len(marker) - 1, len(buffer)), longest, -1):
            if buffer.endswith(marker[:size]):
                longest = size
                break
    return longest
