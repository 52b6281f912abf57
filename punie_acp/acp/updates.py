"""Core events to ACP `session/update` payloads.

ACP replaces a tool call's `content` on every update, so the mapper keeps what each call
has shown so far and always sends the whole list. Content in a named live block (see
`ToolProgress.block`) is replaced in place rather than appended. `rawInput`/`rawOutput` always
go out as objects (a tool's text result as `{"output": ...}`): see `interop.py`.
"""

from __future__ import annotations

from typing import Any

import acp
from acp import schema

from punie_acp.acp.interop import as_object
from punie_acp.core.events import (
    DiffContent,
    Event,
    Location,
    PlanUpdated,
    TerminalContent,
    TextContent,
    TextDelta,
    ThoughtDelta,
    ToolContent,
    ToolFinished,
    ToolProgress,
    ToolStarted,
    TurnEnded,
    UsageReported,
)

Update = (
    schema.AgentMessageChunk
    | schema.AgentThoughtChunk
    | schema.ToolCallStart
    | schema.ToolCallProgress
    | schema.AgentPlanUpdate
)


def wire_content(item: ToolContent) -> Any:
    if isinstance(item, TextContent):
        return acp.tool_content(acp.text_block(item.text))
    if isinstance(item, DiffContent):
        return acp.tool_diff_content(str(item.path), item.new_text, item.old_text)
    if isinstance(item, TerminalContent):
        return acp.tool_terminal_ref(item.terminal_id)
    raise TypeError(f"unknown tool content {item!r}")


def wire_locations(locations: tuple[Location, ...]) -> list[schema.ToolCallLocation]:
    return [schema.ToolCallLocation(path=str(loc.path), line=loc.line) for loc in locations]


class UpdateMapper:
    """One per turn: stateful only in what each tool call has shown."""

    def __init__(self) -> None:
        # Each item remembers the live block it belongs to (None: appended for good).
        self._content: dict[str, list[tuple[str | None, ToolContent]]] = {}
        self._locations: dict[str, list[Location]] = {}

    def map(self, event: Event) -> Update | None:
        if isinstance(event, TextDelta):
            return acp.update_agent_message_text(event.text)
        if isinstance(event, ThoughtDelta):
            return acp.update_agent_thought_text(event.text)
        if isinstance(event, ToolStarted):
            self._content[event.call_id] = []
            self._locations[event.call_id] = list(event.locations)
            return acp.start_tool_call(
                event.call_id,
                event.title,
                kind=event.kind,
                status="pending",
                raw_input=as_object(event.raw_input, "input"),
                locations=wire_locations(event.locations) or None,
            )
        if isinstance(event, ToolProgress):
            return self._progress(event)
        if isinstance(event, ToolFinished):
            content = [item for _, item in self._content.pop(event.call_id, [])]
            self._locations.pop(event.call_id, None)
            # Keep rich content (diffs, terminals) the tool showed; add the result text after it.
            content.extend(event.content)
            return acp.update_tool_call(
                event.call_id,
                status="completed" if event.ok else "failed",
                raw_output=as_object(event.raw_output, "output"),
                content=[wire_content(c) for c in content] or None,
            )
        if isinstance(event, PlanUpdated):
            return acp.update_plan(
                acp.plan_entry(e.content, priority=e.priority, status=e.status) for e in event.entries
            )
        if isinstance(event, UsageReported | TurnEnded):
            return None  # reported in the prompt response
        raise TypeError(f"unknown event {event!r}")

    def _progress(self, event: ToolProgress) -> schema.ToolCallProgress:
        content = self._content.setdefault(event.call_id, [])
        if event.block is None:
            content.extend((None, item) for item in event.content)
        else:
            at = next((i for i, (block, _) in enumerate(content) if block == event.block), len(content))
            content[:] = [entry for entry in content if entry[0] != event.block]
            content[at:at] = [(event.block, item) for item in event.content]
        changed = bool(event.content) or event.block is not None
        locations = self._locations.setdefault(event.call_id, [])
        locations.extend(event.locations)
        return acp.update_tool_call(
            event.call_id,
            status="in_progress" if event.started else None,
            title=event.title,
            content=[wire_content(item) for _, item in content] if changed else None,
            locations=wire_locations(tuple(locations)) if event.locations else None,
        )
