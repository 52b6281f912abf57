"""Neutral progress events a turn produces; the protocol face maps them to its wire format."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

ToolKind = Literal["read", "edit", "delete", "move", "search", "execute", "think", "fetch", "switch_mode", "other"]
StopReason = Literal["end_turn", "max_tokens", "max_turn_requests", "refusal", "cancelled"]


@dataclass(frozen=True)
class Location:
    path: Path
    line: int | None = None  # 1-based


@dataclass(frozen=True)
class TextContent:
    text: str


@dataclass(frozen=True)
class DiffContent:
    path: Path
    old_text: str | None  # None: the file is new
    new_text: str


@dataclass(frozen=True)
class TerminalContent:
    terminal_id: str


ToolContent = TextContent | DiffContent | TerminalContent


@dataclass(frozen=True)
class TextDelta:
    text: str


@dataclass(frozen=True)
class ThoughtDelta:
    text: str


@dataclass(frozen=True)
class ToolStarted:
    call_id: str
    name: str
    kind: ToolKind
    title: str
    raw_input: Any
    locations: tuple[Location, ...] = ()


@dataclass(frozen=True)
class ToolProgress:
    """Extra content or locations reported while a tool runs (appended by the editor).

    With `block` set, `content` is a live block instead: it replaces, in place, whatever an
    earlier progress with the same block name showed (a command's streaming output); empty
    content removes the block.
    """

    call_id: str
    content: tuple[ToolContent, ...] = ()
    locations: tuple[Location, ...] = ()
    title: str | None = None
    started: bool = False  # True once: the tool's code has begun to run
    block: str | None = None


@dataclass(frozen=True)
class ToolFinished:
    call_id: str
    ok: bool
    raw_output: Any
    content: tuple[ToolContent, ...] = ()


@dataclass(frozen=True)
class PlanEntry:
    content: str
    status: Literal["pending", "in_progress", "completed"] = "pending"
    priority: Literal["high", "medium", "low"] = "medium"


@dataclass(frozen=True)
class PlanUpdated:
    entries: tuple[PlanEntry, ...]


@dataclass(frozen=True)
class UsageReported:
    input_tokens: int
    output_tokens: int
    details: dict[str, int] = field(default_factory=dict)


# Why punie itself stopped a turn early: a repeated identical tool call (the loop guard), or the
# request / tool-call limit. Faces and the evaluation read this, never the message's wording.
StopCause = Literal["repeated_tool_call", "usage_limit"]


@dataclass(frozen=True)
class TurnEnded:
    stop_reason: StopReason
    message: str | None = None
    cause: StopCause | None = None


Event = TextDelta | ThoughtDelta | ToolStarted | ToolProgress | ToolFinished | PlanUpdated | UsageReported | TurnEnded
