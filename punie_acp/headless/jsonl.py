"""`punie ask --json`: one JSON object per line on stdout for every event, and nothing else there.

The stream (version 1; fields are only ever added):

    {"type": "start", "version": 1, "session": ID, "model": NAME, "cwd": PATH, "mode": MODE}
    {"type": "text", "text": …}                  a piece of the answer
    {"type": "thought", "text": …}               a piece of the model's thinking (or loading progress)
    {"type": "tool_start", "id", "name", "kind", "title", "input", "locations": [{"path", "line"}]}
    {"type": "tool_progress", "id", "title"|null, "started", "block"|null, "content": [...], "locations": [...]}
    {"type": "tool_finish", "id", "status": "completed"|"failed", "output", "content": [...]}
    {"type": "plan", "entries": [{"content", "status", "priority"}]}
    {"type": "usage", "input_tokens", "output_tokens"}
    {"type": "permission_asked", "id", "kind", "title"}
    {"type": "permission_answered", "id", "outcome"}    allow_once, allow_always, reject_once, reject_always, cancelled
    {"type": "end", "stop_reason": …|null, "exit_code": N, "usage": {"input_tokens", "output_tokens"}, "error": …|null,
     "cause": "repeated_tool_call"|"usage_limit"|null}    why punie stopped the turn early, if it did

`kind` is one of read, edit, delete, move, search, execute, think, fetch, switch_mode, other;
content items are {"type": "text", "text"}, {"type": "diff", "path", "old_text"|null, "new_text"}
or {"type": "terminal", "id"}. `end` is always the last line, also after a failure (then
`stop_reason` is null and `error` says what happened, as the stderr line does).
"""

from __future__ import annotations

import contextlib
import json
from typing import Any, TextIO

from punie_acp.core.events import (
    DiffContent,
    Event,
    Location,
    PlanUpdated,
    TerminalContent,
    TextDelta,
    ThoughtDelta,
    ToolContent,
    ToolFinished,
    ToolProgress,
    ToolStarted,
    TurnEnded,
    UsageReported,
)
from punie_acp.core.host import PermissionOutcome, PermissionRequest
from punie_acp.headless.console import silence

VERSION = 1


class JsonEvents:
    def __init__(self, out: TextIO, err: TextIO) -> None:
        self._out = out
        self._err = err
        self._usage = {"input_tokens": 0, "output_tokens": 0}
        self.reader_gone = False

    def started(self, session_id: str, model: str, cwd: str, mode: str) -> None:
        self._line(
            {"type": "start", "version": VERSION, "session": session_id, "model": model, "cwd": cwd, "mode": mode}
        )

    async def show(self, event: Event) -> None:
        if isinstance(event, UsageReported):
            self._usage["input_tokens"] += event.input_tokens
            self._usage["output_tokens"] += event.output_tokens
        record = as_record(event)
        if record is not None:
            self._line(record)

    def permission_asked(self, request: PermissionRequest) -> None:
        self._line({"type": "permission_asked", "id": request.call_id, "kind": request.kind, "title": request.title})

    def permission_answered(self, request: PermissionRequest, outcome: PermissionOutcome) -> None:
        self._line({"type": "permission_answered", "id": request.call_id, "outcome": outcome})

    def finish(self, ended: TurnEnded | None, code: int, error: str | None) -> None:
        if error is not None:
            self._err.write(f"punie: {error}\n")
            self._err.flush()
        stop, cause = (ended.stop_reason, ended.cause) if ended is not None else (None, None)
        end = {"type": "end", "stop_reason": stop, "exit_code": code, "usage": self._usage, "error": error}
        end["cause"] = cause
        if not self.reader_gone:
            with contextlib.suppress(BrokenPipeError):
                self._line(end)

    def _line(self, record: dict[str, Any]) -> None:
        try:
            self._out.write(json.dumps(record, ensure_ascii=False, default=str) + "\n")
            self._out.flush()
        except BrokenPipeError:
            self.reader_gone = True
            silence(self._out)
            raise  # the core ends the turn: nobody reads the events


def as_record(event: Event) -> dict[str, Any] | None:
    if isinstance(event, TextDelta):
        return {"type": "text", "text": event.text}
    if isinstance(event, ThoughtDelta):
        return {"type": "thought", "text": event.text}
    if isinstance(event, ToolStarted):
        return {
            "type": "tool_start",
            "id": event.call_id,
            "name": event.name,
            "kind": event.kind,
            "title": event.title,
            "input": event.raw_input,
            "locations": _locations(event.locations),
        }
    if isinstance(event, ToolProgress):
        return {
            "type": "tool_progress",
            "id": event.call_id,
            "title": event.title,
            "started": event.started,
            "block": event.block,
            "content": _content(event.content),
            "locations": _locations(event.locations),
        }
    if isinstance(event, ToolFinished):
        status = "completed" if event.ok else "failed"
        output = event.raw_output
        return {
            "type": "tool_finish",
            "id": event.call_id,
            "status": status,
            "output": output,
            "content": _content(event.content),
        }
    if isinstance(event, PlanUpdated):
        entries = [{"content": e.content, "status": e.status, "priority": e.priority} for e in event.entries]
        return {"type": "plan", "entries": entries}
    if isinstance(event, UsageReported):
        return {"type": "usage", "input_tokens": event.input_tokens, "output_tokens": event.output_tokens}
    return None  # TurnEnded: reported by `end`


def _locations(locations: tuple[Location, ...]) -> list[dict[str, Any]]:
    return [{"path": str(loc.path), "line": loc.line} for loc in locations]


def _content(items: tuple[ToolContent, ...]) -> list[dict[str, Any]]:
    shown: list[dict[str, Any]] = []
    for item in items:
        if isinstance(item, DiffContent):
            shown.append({"type": "diff", "path": str(item.path), "old_text": item.old_text, "new_text": item.new_text})
        elif isinstance(item, TerminalContent):
            shown.append({"type": "terminal", "id": item.terminal_id})
        else:
            shown.append({"type": "text", "text": item.text})
    return shown
