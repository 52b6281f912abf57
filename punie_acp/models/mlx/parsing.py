"""Streaming split of a Qwen3 reply into reasoning, answer text and tool calls.

mlx-lm's `TextStateMachine` does the marker work (`<think>`, `</think>`, `<tool_call>`,
`</tool_call>`, matched on decoded text, partial markers held back). On top of it this adds the
recovery the Qwen family needs, as extra states:

- a ```json fence holding a call instead of tags (held back until the fence closes, then a tool call
  if it names a known tool, otherwise emitted as the text it was);
- a call with no opening tag: `{"name"` / `{'name'` / `<function=` in answer text opens a "bare"
  block that ends when the object (or `</function>`) closes — a stray `</tool_call>` is dropped;
- several calls in one reply, several in one block, single-quoted JSON (see `toolcalls.py`).

A block that cannot be parsed still becomes a `ToolCallEnd` with `error` set: it is never dropped.
The start of a call is detected at its opening marker (text streaming stops there); the call itself
is emitted once its block is complete.
Whitespace between parts is trimmed (at the start of a part, and before a tool call or the end;
held back until more text shows it is inside the part); the rest streams as it arrives.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any

from punie_acp.models.mlx.toolcalls import ParsedCall, parse_tool_block, scan_object

NORMAL, REASONING, TOOL, FENCE = "normal", "reasoning", "tool", "fence"
BARE = "bare:"  # + the marker that opened the block, which is part of the call
_BARE_MARKERS = ('{"name"', '{ "name"', "{'name'", "<function=")


@dataclass(frozen=True)
class ReplyDelta:
    text: str


@dataclass(frozen=True)
class ThinkingDelta:
    text: str


@dataclass(frozen=True)
class ToolCallEnd:
    index: int
    call: ParsedCall


ParseEvent = ReplyDelta | ThinkingDelta | ToolCallEnd


class _Run:
    """One part's text (answer or reasoning) with leading and trailing whitespace trimmed."""

    def __init__(self) -> None:
        self.started = False
        self.pending = ""

    def add(self, chunk: str) -> str:
        if not self.started:
            chunk = chunk.lstrip()
        body = chunk.rstrip()
        if not body:
            self.pending += chunk
            return ""
        out = self.pending + body if self.started else body
        self.started, self.pending = True, chunk[len(body) :]
        return out

    def reset(self) -> None:
        self.started, self.pending = False, ""


class ReplyParser:
    def __init__(
        self,
        tools: Sequence[dict[str, Any]] = (),
        *,
        initial: str = NORMAL,
        think: tuple[str, str] = ("<think>", "</think>"),
        tool: tuple[str, str] = ("<tool_call>", "</tool_call>"),
    ) -> None:
        from mlx_lm.generate import TextStateMachine

        self._tools = list(tools)
        self._tool_open = tool[0]
        self._names: Collection[str] = {t["function"]["name"] for t in self._tools if "function" in t}
        transitions = {
            NORMAL: [(think[0], REASONING), (tool[0], TOOL), ("```json", FENCE), (tool[1], NORMAL)]
            + [(marker, BARE + marker) for marker in _BARE_MARKERS],
            REASONING: [(think[1], NORMAL), (tool[0], TOOL)],
            TOOL: [(tool[1], NORMAL)],
            FENCE: [("```", NORMAL)],
        }
        for marker in _BARE_MARKERS:
            transitions[BARE + marker] = [(tool[1], NORMAL)]
        self._machine = TextStateMachine(transitions)  # type: ignore[no-untyped-call]
        self._state: Any = self._machine.make_state(initial)  # type: ignore[no-untyped-call]
        self._current = initial
        self._text, self._thinking = _Run(), _Run()
        self._block = ""
        self._next_index = 0
        self.tool_calls = 0

    # -- public ---------------------------------------------------------------------------

    def feed(self, text: str) -> list[ParseEvent]:
        from mlx_lm.generate import TextStateMachine

        events: list[ParseEvent] = []
        self._state, segments = TextStateMachine.split(self._state, text)  # type: ignore[no-untyped-call]
        for state, chunk in segments:
            if state != self._current:
                events += self._close()
                self._open(state)
            events += self._add(chunk)
        if self._current.startswith(BARE):
            events += self._maybe_end_bare()
        return events

    def finish(self, truncated: bool = False) -> list[ParseEvent]:
        """End of the reply. `truncated`: cut off (max_tokens, repetition guard), not stopped by the model.

        A block still open then was cut off mid-call: it comes out as the text it was (with its
        opening marker), so the turn ends with the reply as far as it got — running or retrying a
        call that was never finished would only hit the same limit again.
        """
        from mlx_lm.generate import TextStateMachine

        self._state, rest, _ = TextStateMachine.flush(self._state)  # type: ignore[no-untyped-call]
        events = self._add(rest)
        if truncated and self._current not in (NORMAL, REASONING):
            opener = {TOOL: self._tool_open, FENCE: "```json"}.get(self._current, "")
            events += self._as_text(opener + self._block)
            self._block = ""
        else:
            events += self._close(final=True)
        self._current = NORMAL
        return events

    # -- states ---------------------------------------------------------------------------

    def _open(self, state: str) -> None:
        self._current = state
        if state == REASONING:
            self._thinking.reset()
            self._text.reset()  # text after the reasoning is a new part
        elif state != NORMAL:
            self._block = state[len(BARE) :] if state.startswith(BARE) else ""

    def _add(self, chunk: str) -> list[ParseEvent]:
        if not chunk:
            return []
        if self._current == NORMAL:
            out = self._text.add(chunk)
            return [ReplyDelta(out)] if out else []
        if self._current == REASONING:
            out = self._thinking.add(chunk)
            return [ThinkingDelta(out)] if out else []
        self._block += chunk  # held back: a call is only emitted once complete
        return []

    def _close(self, final: bool = False) -> list[ParseEvent]:
        state, block = self._current, self._block
        self._block = ""
        if state in (NORMAL, REASONING):
            return []
        if state == TOOL:
            return self._emit_calls(parse_tool_block(block, self._tools))
        calls = parse_tool_block(block, self._tools)
        if state == FENCE and not self._is_call(calls):
            return self._as_text("```json" + block + ("" if final else "```"))
        if state.startswith(BARE) and not self._is_call(calls):
            return self._as_text(block)
        return self._emit_calls(calls)

    def _maybe_end_bare(self) -> list[ParseEvent]:
        """A bare block ends where its object (or `</function>`) closes; the rest is text again."""
        block = self._block
        if self._current == BARE + "<function=":
            cut = block.find("</function>")
            end = None if cut < 0 else cut + len("</function>")
        else:
            end = scan_object(block)
        if end is None:
            return []
        self._block = block[:end]
        events = self._close()
        pending = self._state[3]
        self._state, self._current = self._machine.make_state(NORMAL), NORMAL  # type: ignore[no-untyped-call]
        return events + self.feed(block[end:] + pending)

    # -- helpers --------------------------------------------------------------------------

    def _is_call(self, calls: list[ParsedCall]) -> bool:
        """A recovered block counts as a call when it names a tool this request offers."""
        return any(c.name in self._names for c in calls)

    def _as_text(self, text: str) -> list[ParseEvent]:
        out = self._text.add(text)
        return [ReplyDelta(out)] if out else []

    def _emit_calls(self, calls: list[ParsedCall]) -> list[ParseEvent]:
        events: list[ParseEvent] = []
        for call in calls:
            events.append(ToolCallEnd(self._next_index, call))
            self._next_index += 1
            self.tool_calls += 1
        self._text.reset()
        return events
