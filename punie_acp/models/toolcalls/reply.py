"""Streaming split of a Qwen3 reply into reasoning, answer text and tool calls.

`MarkerMachine` does the marker work (`<think>`, `</think>`, `<tool_call>`, `</tool_call>`, matched
on decoded text, partial markers held back). On top of it this adds the recovery the Qwen family
needs, as extra states:

- a ```json fence holding a call instead of tags (held back until the fence closes, then a tool call
  if it names a known tool, otherwise emitted as the text it was);
- a call with no opening tag: `{"name"` / `{'name'` / `<function=` in answer text opens a "bare"
  block that ends when the object (or `</function>`) closes — a stray `</tool_call>` is dropped;
- several calls in one reply, several in one block, single-quoted JSON (see `calls.py`).

A block that cannot be parsed still becomes a `ToolCallEnd` with `error` set: it is never dropped.
A block longer than `MAX_BLOCK_CHARS` becomes such a failed call at once and the rest of it is
dropped, so a runaway call costs bounded memory and parsing time.
The start of a call is detected at its opening marker (text streaming stops there); the call itself
is emitted once its block is complete.
Whitespace between parts is trimmed (at the start of a part, and before a tool call or the end;
held back until more text shows it is inside the part); the rest streams as it arrives.

An OpenAI-compatible server sends reasoning and answer on two channels (`reasoning` /
`reasoning_content` and `content`): `feed(text, channel=…)` switches between them unless a call is
open, so a call that starts on one channel and ends on the other is still one call.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from punie_acp.models.toolcalls.calls import ObjectScanner, ParsedCall, find_name, parse_tool_block
from punie_acp.models.toolcalls.markers import MarkerMachine

NORMAL, REASONING, TOOL, FENCE = "normal", "reasoning", "tool", "fence"
BARE = "bare:"  # + the marker that opened the block, which is part of the call
_BARE_MARKERS = ('{"name"', '{ "name"', "{'name'", "<function=")
_FUNCTION_END = "</function>"
# A real call is a few KiB (a whole file written is the big case); past this it is runaway output.
MAX_BLOCK_CHARS = 1 << 20

Channel = Literal["content", "reasoning"]


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


class _Block:
    """The text of an open call, kept as pieces and joined once: streaming a long call one token at
    a time must not copy it over and over."""

    def __init__(self, opener: str = "") -> None:
        self._pieces = [opener] if opener else []
        self.size = len(opener)

    def add(self, chunk: str) -> None:
        self._pieces.append(chunk)
        self.size += len(chunk)

    def tail(self, n: int) -> str:
        out = ""
        for piece in reversed(self._pieces):
            out = piece + out
            if len(out) >= n:
                break
        return out[-n:] if n else ""

    def text(self) -> str:
        joined = "".join(self._pieces)
        self._pieces = [joined] if joined else []
        return joined


def _looks_like_call(text: str) -> bool:
    return text.lstrip().startswith(("{", "[", "<function="))


class ReplyParser:
    def __init__(
        self,
        tools: Sequence[dict[str, Any]] = (),
        *,
        initial: str = NORMAL,
        think: tuple[str, str] = ("<think>", "</think>"),
        tool: tuple[str, str] = ("<tool_call>", "</tool_call>"),
        max_block_chars: int = MAX_BLOCK_CHARS,
    ) -> None:
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
        self._machine = MarkerMachine(transitions, initial)
        self._current = initial
        self._text, self._thinking = _Run(), _Run()
        self._block = _Block()
        self._bare_end: int | None = None  # where the open bare block's call ends, once seen
        self._discarding = False  # the open block ran past the limit: already reported, rest dropped
        self._scanner = ObjectScanner()
        self._max_block = max_block_chars
        self._next_index = 0
        self.tool_calls = 0

    # -- public ---------------------------------------------------------------------------

    def feed(self, text: str, channel: Channel | None = None) -> list[ParseEvent]:
        """Parse the next piece; `channel` is the server's field it came in (None: one stream)."""
        events = self._switch_channel(channel)
        while True:  # a loop, not recursion: one piece may hold any number of untagged calls
            for state, chunk in self._machine.split(text):
                if state != self._current:
                    events += self._close()
                    self._open(state)
                events += self._add(chunk)
            if not self._current.startswith(BARE) or self._bare_end is None:
                return events
            text = self._end_bare(events)

    def finish(self, truncated: bool = False) -> list[ParseEvent]:
        """End of the reply. `truncated`: cut off (max_tokens, repetition guard), not stopped by the model.

        A block still open then was cut off mid-call: it comes out as the text it was (with its
        opening marker), so the turn ends with the reply as far as it got — running or retrying a
        call that was never finished would only hit the same limit again.
        """
        events = self._add(self._machine.flush())
        if truncated and self._current not in (NORMAL, REASONING) and not self._discarding:
            opener = {TOOL: self._tool_open, FENCE: "```json"}.get(self._current, "")
            events += self._as_text(opener + self._block.text())
            self._block = _Block()
        else:
            events += self._close(final=True)
        self._current = NORMAL
        return events

    # -- states ---------------------------------------------------------------------------

    def _switch_channel(self, channel: Channel | None) -> list[ParseEvent]:
        wanted = {None: self._current, "reasoning": REASONING, "content": NORMAL}[channel]
        if wanted == self._current or self._current not in (NORMAL, REASONING):
            return []  # same channel, or a call is open: it continues whichever field carries it
        events = self._close()
        self._open(wanted)
        self._machine.state = wanted  # held-back text (a partial marker) carries over
        return events

    def _open(self, state: str) -> None:
        self._current = state
        self._bare_end = None
        if state == REASONING:
            self._thinking.reset()
            self._text.reset()  # text after the reasoning is a new part
        elif state != NORMAL:
            opener = state[len(BARE) :] if state.startswith(BARE) else ""
            self._block = _Block(opener)
            self._scanner = ObjectScanner()
            self._scanner.feed(opener)

    def _add(self, chunk: str) -> list[ParseEvent]:
        if not chunk:
            return []
        if self._current == NORMAL:
            out = self._text.add(chunk)
            return [ReplyDelta(out)] if out else []
        if self._current == REASONING:
            out = self._thinking.add(chunk)
            return [ThinkingDelta(out)] if out else []
        if self._discarding:
            return []
        if self._current.startswith(BARE) and self._bare_end is None:
            self._bare_end = self._find_bare_end(chunk)
        self._block.add(chunk)  # held back: a call is only emitted once complete
        if self._block.size > self._max_block:
            return self._overflow()
        return []

    def _find_bare_end(self, chunk: str) -> int | None:
        """Where the bare block ends (its object, or `</function>`), if `chunk` completes it."""
        if self._current != BARE + "<function=":
            return self._scanner.feed(chunk)
        tail = self._block.tail(len(_FUNCTION_END) - 1)
        cut = (tail + chunk).find(_FUNCTION_END)
        return None if cut < 0 else self._block.size - len(tail) + cut + len(_FUNCTION_END)

    def _overflow(self) -> list[ParseEvent]:
        head = self._block.text()[:2000]
        self._block, self._discarding = _Block(), True
        error = f"the tool call is longer than {self._max_block} characters; split the work into smaller calls"
        return self._emit_calls([ParsedCall(find_name(head), None, head, error)])

    def _close(self, final: bool = False) -> list[ParseEvent]:
        state, block = self._current, self._block.text()
        self._block = _Block()
        if self._discarding:
            self._discarding = False
            return []
        if state in (NORMAL, REASONING):
            return []
        if state == TOOL:
            return self._emit_calls(parse_tool_block(block, self._tools))
        if state.startswith(BARE) and self._bare_end is not None:
            # Closed by a stray `</tool_call>` after the object: more calls, or text, follow it.
            block, rest = block[: self._bare_end], block[self._bare_end :]
            return self._close_bare(block) + (self._close_bare(rest) if _looks_like_call(rest) else self._as_text(rest))
        if state == FENCE:
            calls = parse_tool_block(block, self._tools)
            if self._is_call(calls):
                return self._emit_calls(calls)
            return self._as_text("```json" + block + ("" if final else "```"))
        return self._close_bare(block)

    def _close_bare(self, block: str) -> list[ParseEvent]:
        calls = parse_tool_block(block, self._tools)
        return self._emit_calls(calls) if self._is_call(calls) else self._as_text(block)

    def _end_bare(self, events: list[ParseEvent]) -> str:
        """Close the bare block at its end; the text after it, to be read again as answer text."""
        assert self._bare_end is not None
        block = self._block.text()
        end, self._bare_end = self._bare_end, None
        self._block = _Block()
        events += self._close_bare(block[:end])
        pending = self._machine.reset(NORMAL)
        self._current = NORMAL
        return block[end:] + pending

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
