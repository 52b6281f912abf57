"""Stored items to JSON text and back, by an explicit table (never pickle: the file may be tampered with).

Each item is `(kind, body)`; `decode` rebuilds the same dataclass. A row it cannot read (a kind
from a newer punie in a migrated store, a damaged body) raises `ValueError`; the store skips it
with a log line rather than refusing the whole session.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, get_args

from punie_acp.core.events import (
    DiffContent,
    Location,
    PlanEntry,
    PlanUpdated,
    StopCause,
    StopReason,
    TerminalContent,
    TextContent,
    TextDelta,
    ThoughtDelta,
    ToolContent,
    ToolFinished,
    ToolKind,
    ToolProgress,
    ToolStarted,
    TurnEnded,
    UsageReported,
)
from punie_acp.store.protocol import Choice, StoredItem, TitleSet, UserPrompt


def encode(item: StoredItem) -> tuple[str, str]:
    kind, body = _body(item)
    # ASCII with escapes: a lone surrogate (valid in a client's JSON, not in UTF-8) is kept, not refused.
    return kind, json.dumps(body, ensure_ascii=True, separators=(",", ":"), default=str)


def decode(kind: str, text: str) -> StoredItem:
    try:
        body = json.loads(text)
        if not isinstance(body, dict):
            raise TypeError("not an object")
        return _DECODERS[kind](body)
    except KeyError:
        raise ValueError(f"unknown item kind {kind!r}") from None
    except (TypeError, ValueError, AttributeError) as exc:
        raise ValueError(f"unreadable {kind} item: {exc}") from None


def _body(item: StoredItem) -> tuple[str, dict[str, Any]]:  # noqa: C901 - one branch per item kind
    if isinstance(item, UserPrompt):
        return "user", {"text": item.text}
    if isinstance(item, Choice):
        return "choice", {"key": item.key, "value": item.value}
    if isinstance(item, TitleSet):
        return "title", {"title": item.title}
    if isinstance(item, TextDelta):
        return "text", {"text": item.text}
    if isinstance(item, ThoughtDelta):
        return "thought", {"text": item.text}
    if isinstance(item, ToolStarted):
        return "tool_started", {
            "call_id": item.call_id,
            "name": item.name,
            "kind": item.kind,
            "title": item.title,
            "raw_input": item.raw_input,
            "locations": _locations(item.locations),
        }
    if isinstance(item, ToolProgress):
        return "tool_progress", {
            "call_id": item.call_id,
            "content": _contents(item.content),
            "locations": _locations(item.locations),
            "title": item.title,
            "started": item.started,
            "block": item.block,
        }
    if isinstance(item, ToolFinished):
        return "tool_finished", {
            "call_id": item.call_id,
            "ok": item.ok,
            "raw_output": item.raw_output,
            "content": _contents(item.content),
        }
    if isinstance(item, PlanUpdated):
        return "plan", {"entries": [[e.content, e.status, e.priority] for e in item.entries]}
    if isinstance(item, UsageReported):
        return "usage", {"input": item.input_tokens, "output": item.output_tokens, "details": item.details}
    if isinstance(item, TurnEnded):
        return "turn_ended", {"stop_reason": item.stop_reason, "message": item.message, "cause": item.cause}
    raise TypeError(f"cannot store {item!r}")


def _locations(locations: tuple[Location, ...]) -> list[list[Any]]:
    return [[str(loc.path), loc.line] for loc in locations]


def _contents(content: tuple[ToolContent, ...]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for c in content:
        if isinstance(c, TextContent):
            out.append({"type": "text", "text": c.text})
        elif isinstance(c, DiffContent):
            out.append({"type": "diff", "path": str(c.path), "old": c.old_text, "new": c.new_text})
        else:
            out.append({"type": "terminal", "id": c.terminal_id})
    return out


def _read_locations(raw: Any) -> tuple[Location, ...]:
    return tuple(Location(Path(_str(p)), None if line is None else int(line)) for p, line in raw)


def _read_contents(raw: Any) -> tuple[ToolContent, ...]:
    out: list[ToolContent] = []
    for c in raw:
        if c["type"] == "text":
            out.append(TextContent(_str(c["text"])))
        elif c["type"] == "diff":
            old = c["old"]
            out.append(DiffContent(Path(_str(c["path"])), None if old is None else _str(old), _str(c["new"])))
        elif c["type"] == "terminal":
            out.append(TerminalContent(_str(c["id"])))
        else:
            raise ValueError(f"unknown content type {c['type']!r}")
    return tuple(out)


def _str(value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError(f"expected text, got {type(value).__name__}")
    return value


def _one_of(value: Any, allowed: tuple[str, ...]) -> Any:
    if value not in allowed:
        raise ValueError(f"unexpected value {str(value)[:40]!r}")
    return value


_KINDS: tuple[str, ...] = get_args(ToolKind)
_STOPS: tuple[str, ...] = get_args(StopReason)
_CAUSES: tuple[str, ...] = get_args(StopCause)  # absent in records written before it existed
_STATUSES = ("pending", "in_progress", "completed")
_PRIORITIES = ("high", "medium", "low")


def _opt_one_of(value: Any, allowed: tuple[str, ...]) -> Any:
    return None if value is None else _one_of(value, allowed)


def _opt_str(value: Any) -> str | None:
    return None if value is None else _str(value)


def _tool_started(b: dict[str, Any]) -> ToolStarted:
    locations = _read_locations(b["locations"])
    return ToolStarted(
        _str(b["call_id"]), _str(b["name"]), _one_of(b["kind"], _KINDS), _str(b["title"]), b["raw_input"], locations
    )


def _tool_progress(b: dict[str, Any]) -> ToolProgress:
    return ToolProgress(
        call_id=_str(b["call_id"]),
        content=_read_contents(b["content"]),
        locations=_read_locations(b["locations"]),
        title=_opt_str(b["title"]),
        started=bool(b["started"]),
        block=_opt_str(b["block"]),
    )


def _tool_finished(b: dict[str, Any]) -> ToolFinished:
    return ToolFinished(_str(b["call_id"]), bool(b["ok"]), b["raw_output"], _read_contents(b["content"]))


def _plan(b: dict[str, Any]) -> PlanUpdated:
    return PlanUpdated(
        tuple(PlanEntry(_str(c), _one_of(s, _STATUSES), _one_of(p, _PRIORITIES)) for c, s, p in b["entries"])
    )


_DECODERS: dict[str, Callable[[dict[str, Any]], StoredItem]] = {
    "user": lambda b: UserPrompt(_str(b["text"])),
    "choice": lambda b: Choice(_str(b["key"]), _str(b["value"])),
    "title": lambda b: TitleSet(_str(b["title"])),
    "text": lambda b: TextDelta(_str(b["text"])),
    "thought": lambda b: ThoughtDelta(_str(b["text"])),
    "tool_started": _tool_started,
    "tool_progress": _tool_progress,
    "tool_finished": _tool_finished,
    "plan": _plan,
    "usage": lambda b: UsageReported(int(b["input"]), int(b["output"]), dict(b["details"])),
    "turn_ended": lambda b: TurnEnded(
        _one_of(b["stop_reason"], _STOPS), _opt_str(b["message"]), _opt_one_of(b.get("cause"), _CAUSES)
    ),
}
