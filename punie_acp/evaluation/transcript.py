"""A case's turn as the face sees it: the neutral events, timed, kept as a transcript and as facts to score."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from punie_acp.core.events import (
    Event,
    TextDelta,
    ThoughtDelta,
    ToolFinished,
    ToolStarted,
    TurnEnded,
    UsageReported,
)
from punie_acp.workspace.text import representable

MAX_OUTPUT_CHARS = 4_000
MAX_ENTRY_TEXT_CHARS = 50_000


@dataclass
class Recorder:
    """Collects a turn's events (the `emit` given to `CoreService.run_turn`)."""

    started: float = field(default_factory=time.monotonic)
    entries: list[dict[str, Any]] = field(default_factory=list)
    calls: list[tuple[str, Any]] = field(default_factory=list)
    first_output: float | None = None
    answer: str = ""  # the text after the last tool result: the final answer
    input_tokens: int = 0
    output_tokens: int = 0

    def elapsed(self) -> float:
        return round(time.monotonic() - self.started, 4)

    async def emit(self, event: Event) -> None:
        if isinstance(event, TextDelta | ThoughtDelta | ToolStarted) and self.first_output is None:
            self.first_output = self.elapsed()
        if isinstance(event, TextDelta):
            self.answer += event.text
            self._text("text", event.text)
        elif isinstance(event, ThoughtDelta):
            self._text("thought", event.text)
        elif isinstance(event, ToolStarted):
            self.calls.append((event.name, event.raw_input))
            self.entries.append(
                {"t": self.elapsed(), "kind": "tool", "id": event.call_id, "name": event.name}
                | {"tool_kind": event.kind, "title": event.title, "input": representable(event.raw_input)}
            )
        elif isinstance(event, ToolFinished):
            self.answer = ""
            output = event.raw_output if isinstance(event.raw_output, str) else repr(event.raw_output)
            self.entries.append(
                {"t": self.elapsed(), "kind": "result", "id": event.call_id, "ok": event.ok}
                | {"output": _cut(output, MAX_OUTPUT_CHARS)}
            )
        elif isinstance(event, UsageReported):
            self.input_tokens += event.input_tokens
            self.output_tokens += event.output_tokens

    def _text(self, kind: str, text: str) -> None:
        last = self.entries[-1] if self.entries else None
        if last is not None and last["kind"] == kind:
            last["text"] = _cut(last["text"] + text, MAX_ENTRY_TEXT_CHARS)
        else:
            self.entries.append({"t": self.elapsed(), "kind": kind, "text": text})

    def ended(self, ended: TurnEnded | None, error: str | None) -> None:
        entry: dict[str, Any] = {"t": self.elapsed(), "kind": "end"}
        entry["stop_reason"] = ended.stop_reason if ended else "error"
        entry["message"] = error if error is not None else (ended.message if ended else None)
        self.entries.append(entry)


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit] + f"\n[… {len(text) - limit} more characters]"


def loop_guard_hit(ended: TurnEnded | None) -> bool:
    return ended is not None and ended.cause == "repeated_tool_call"


def limit_hit(ended: TurnEnded | None) -> bool:
    """The request or tool-call limit stopped the turn (not the repetition guard)."""
    return ended is not None and ended.cause == "usage_limit"
