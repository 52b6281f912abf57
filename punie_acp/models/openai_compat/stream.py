"""The streamed reply of an OpenAI-compatible server, with tool calls written as text recovered.

Many servers hand the model's `<tool_call>…</tool_call>` (or a ```json fence, or Qwen3-Coder's
`<function=…>` XML, or an untagged call) back as plain `content` — or inside `reasoning` — rather
than as structured `tool_calls`. Every `content` and `reasoning` / `reasoning_content` delta goes
through the same `ReplyParser` as the in-process backend: text that is not a call streams as text
(reasoning as thinking), each recovered call becomes a tool-call part with its own id
(`call_<stream>_<n>`, fixed once made), and a call that cannot be parsed becomes a tool call PydanticAI
answers with a retry prompt (its raw text as the arguments), never silently lost. Structured
`tool_calls` from the server pass through as PydanticAI maps them.

Failures while reading (connection dropped, a reply over the size limit, a body that is not SSE)
are raised as they come; `LocalServerModel` turns each into one line naming the server.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Iterable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pydantic_ai.messages import ModelResponseStreamEvent
from pydantic_ai.models.openai import OpenAIStreamedResponse

if TYPE_CHECKING:  # the OpenAI SDK is PydanticAI's dependency; only its types are named here
    from openai.types.chat import chat_completion_chunk

from punie_acp.models.toolcalls import (
    INVALID_TOOL_NAME,
    ParseEvent,
    ReplyDelta,
    ReplyParser,
    ThinkingDelta,
    ToolCallEnd,
)

_REASONING_FIELDS = ("reasoning_content", "reasoning")  # vLLM may send both with the same text


@dataclass
class RecoveringStreamedResponse(OpenAIStreamedResponse):
    _parser: ReplyParser = field(default_factory=ReplyParser, init=False)
    _stream_id: str = field(default_factory=lambda: uuid.uuid4().hex[:12], init=False)

    def use_tools(self, tools: list[dict[str, Any]]) -> None:
        """The request's tools: a recovered untagged call or fence must name one of them."""
        self._parser = ReplyParser(tools)

    async def _get_event_iterator(self) -> AsyncIterator[ModelResponseStreamEvent]:
        async for event in super()._get_event_iterator():
            yield event
        for parsed in self._parser.finish(truncated=self.finish_reason == "length"):
            for event in self._emit(parsed):
                yield event
        if self._parser.tool_calls and self.finish_reason in (None, "stop"):
            self.finish_reason = "tool_call"

    def _map_part_delta(self, choice: chat_completion_chunk.Choice) -> Iterable[ModelResponseStreamEvent]:
        delta = choice.delta
        events: list[ModelResponseStreamEvent] = []
        reasoning = _reasoning_text(delta)
        if reasoning:
            for parsed in self._parser.feed(reasoning, channel="reasoning"):
                events.extend(self._emit(parsed))
        content = _content_text(delta.content)
        if content:
            for parsed in self._parser.feed(content, channel="content"):
                events.extend(self._emit(parsed))
        events.extend(self._map_tool_call_delta(choice))  # structured calls, as PydanticAI maps them
        return events

    def _emit(self, parsed: ParseEvent) -> Iterator[ModelResponseStreamEvent]:
        manager = self._parts_manager
        if isinstance(parsed, ReplyDelta):
            yield from manager.handle_text_delta(vendor_part_id=None, content=parsed.text)
        elif isinstance(parsed, ThinkingDelta):
            yield from manager.handle_thinking_delta(vendor_part_id=None, content=parsed.text)
        elif isinstance(parsed, ToolCallEnd):
            call = parsed.call
            args = json.dumps(call.arguments, ensure_ascii=False) if call.error is None else call.raw or "<empty>"
            yield manager.handle_tool_call_part(
                vendor_part_id=("recovered", parsed.index),
                tool_name=call.name or INVALID_TOOL_NAME,
                args=args,
                tool_call_id=f"call_{self._stream_id}_{parsed.index}",
            )


def _reasoning_text(delta: chat_completion_chunk.ChoiceDelta) -> str:
    for name in _REASONING_FIELDS:
        value = getattr(delta, name, None)
        if isinstance(value, str) and value:
            return value
    return ""


def _content_text(content: object) -> str:
    """`content` as text; some servers send a list of parts (`[{"type": "text", "text": …}]`)."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        texts = [p.get("text") for p in content if isinstance(p, dict) and p.get("type") == "text"]
        return "".join(t for t in texts if isinstance(t, str))
    return ""
