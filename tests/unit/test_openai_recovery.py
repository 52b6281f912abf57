"""The OpenAI-compatible backend against a fake server that returns tool calls as raw text.

Each raw form a server may hand back in `content` (or `reasoning`) instead of structured
`tool_calls` is streamed in awkward pieces (deltas of 1-7 characters, bytes split inside UTF-8
characters) and must come out as the same tool call, with the text around it still text.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic_ai.messages import (
    ModelRequest,
    ModelResponse,
    ModelResponseStreamEvent,
    PartDeltaEvent,
    PartStartEvent,
    TextPart,
    TextPartDelta,
    ThinkingPart,
    ToolCallPart,
)
from pydantic_ai.models import ModelRequestParameters
from pydantic_ai.settings import ModelSettings
from pydantic_ai.tools import ToolDefinition

from punie_acp.models.base import ModelNotAvailable
from punie_acp.models.openai_compat import LocalServerModel
from tests.support.fake_openai import FakeOpenAIServer, Reply, chunk, fake_openai_server, sse, sse_reply

pytestmark = pytest.mark.anyio

READ = ToolDefinition(
    name="read_file",
    parameters_json_schema={
        "type": "object",
        "properties": {"path": {"type": "string"}, "limit": {"type": "integer"}},
    },
)
LIST = ToolDefinition(name="list_dir", parameters_json_schema={"type": "object", "properties": {}})
STEPS = [1, 2, 7]


async def reply_of(
    server: FakeOpenAIServer,
    settings: ModelSettings | None = None,
    events: list[ModelResponseStreamEvent] | None = None,
    **kwargs: Any,
) -> tuple[ModelResponse, list[ModelResponseStreamEvent]]:
    model = LocalServerModel("fake-qwen3", server.base_url, {"max_tokens": 64}, **kwargs)
    params = ModelRequestParameters(function_tools=[READ, LIST])
    events = [] if events is None else events
    async with model.request_stream([ModelRequest.user_text_prompt("hi")], settings or {}, params) as stream:
        async for event in stream:
            events.append(event)
    return stream.get(), events


def shape(response: ModelResponse) -> list[tuple[str, Any]]:
    out: list[tuple[str, Any]] = []
    for part in response.parts:
        if isinstance(part, TextPart):
            out.append(("text", part.content))
        elif isinstance(part, ThinkingPart):
            out.append(("thinking", part.content))
        elif isinstance(part, ToolCallPart):
            out.append(("call", (part.tool_name, part.args_as_dict())))
    return out


async def shape_of(content: str, step: int, **kwargs: Any) -> list[tuple[str, Any]]:
    with fake_openai_server() as server:
        server.script(sse_reply(content, step=step, **kwargs))
        response, _ = await reply_of(server)
    return shape(response)


@pytest.mark.parametrize("step", STEPS)
async def test_json_in_tool_call_tags_between_text(step: int) -> None:
    content = 'Let me look at café.py 😀.\n<tool_call>\n{"name": "read_file", "arguments": {"path": "café.py"}}\n'
    content += "</tool_call>\nThen I answer."
    assert await shape_of(content, step) == [
        ("text", "Let me look at café.py 😀."),
        ("call", ("read_file", {"path": "café.py"})),
        ("text", "Then I answer."),
    ]


async def test_a_reply_asked_for_whole_is_recovered_the_same_way() -> None:
    """`request()` (no streaming) reads the same stream, so a raw-text call is still a call."""
    content = 'Reading:\n<tool_call>\n{"name": "read_file", "arguments": {"path": "a.py"}}\n</tool_call>'
    with fake_openai_server() as server:
        server.script(sse_reply(content, step=3))
        model = LocalServerModel("fake-qwen3", server.base_url, {"max_tokens": 64})
        params = ModelRequestParameters(function_tools=[READ, LIST])
        response = await model.request([ModelRequest.user_text_prompt("hi")], {}, params)
    assert shape(response) == [("text", "Reading:"), ("call", ("read_file", {"path": "a.py"}))]


@pytest.mark.parametrize("step", STEPS)
async def test_fenced_json_block(step: int) -> None:
    content = 'Reading:\n```json\n{"name": "read_file", "arguments": {"path": "a \\"q\\" b"}}\n```'
    assert await shape_of(content, step) == [("text", "Reading:"), ("call", ("read_file", {"path": 'a "q" b'}))]


@pytest.mark.parametrize("step", STEPS)
async def test_qwen3_coder_xml(step: int) -> None:
    content = "<tool_call>\n<function=read_file>\n<parameter=path>\nsrc/ü.py\n</parameter>\n"
    content += "<parameter=limit>\n12\n</parameter>\n</function>\n</tool_call>"
    assert await shape_of(content, step) == [("call", ("read_file", {"path": "src/ü.py", "limit": 12}))]


@pytest.mark.parametrize("step", STEPS)
async def test_missing_opening_tag(step: int) -> None:
    content = 'Sure. {"name": "read_file", "arguments": {"path": "x}y"}}\n</tool_call>'
    assert await shape_of(content, step) == [("text", "Sure."), ("call", ("read_file", {"path": "x}y"}))]


@pytest.mark.parametrize("step", STEPS)
async def test_several_calls_in_one_reply(step: int) -> None:
    content = '<tool_call>{"name": "list_dir", "arguments": {}}</tool_call>\n'
    content += "<tool_call>{'name': 'read_file', 'arguments': {'path': 'b'}}</tool_call>"
    content += '<tool_call>[{"name": "read_file", "arguments": {"path": "c"}}]</tool_call>'
    assert await shape_of(content, step) == [
        ("call", ("list_dir", {})),
        ("call", ("read_file", {"path": "b"})),
        ("call", ("read_file", {"path": "c"})),
    ]


@pytest.mark.parametrize("field", ["reasoning", "reasoning_content"])
@pytest.mark.parametrize("step", STEPS)
async def test_call_in_the_reasoning_channel(field: str, step: int) -> None:
    reasoning = 'I need the file. <tool_call>{"name": "read_file", "arguments": {"path": "r"}}</tool_call>'
    assert await shape_of("", step, reasoning=reasoning, reasoning_field=field) == [
        ("thinking", "I need the file."),
        ("call", ("read_file", {"path": "r"})),
    ]


@pytest.mark.parametrize("field", ["reasoning", "reasoning_content"])
async def test_reasoning_fields_show_as_thoughts(field: str) -> None:
    assert await shape_of("The answer.", 2, reasoning="Thinking…", reasoning_field=field) == [
        ("thinking", "Thinking…"),
        ("text", "The answer."),
    ]


async def test_a_call_split_between_content_and_reasoning_is_one_call() -> None:
    events = [
        chunk({"content": "Checking <tool_"}),
        chunk({"content": 'call>{"name": "read_'}),
        chunk({"reasoning": 'file", "arguments": {"pa'}),
        chunk({"reasoning": 'th": "s"}}</tool_call>'}),
        chunk({"content": "Done."}),
        chunk({}, "stop"),
    ]
    with fake_openai_server() as server:
        server.script(Reply(sse(events), piece=3))
        response, _ = await reply_of(server)
    assert shape(response) == [("text", "Checking"), ("call", ("read_file", {"path": "s"})), ("text", "Done.")]


async def test_a_malformed_call_is_a_visible_failed_call_not_a_loss() -> None:
    with fake_openai_server() as server:
        server.script(sse_reply('<tool_call>{"name": "read_file", "arguments": {"path": </tool_call>'))
        response, _ = await reply_of(server)
    [part] = response.parts
    assert isinstance(part, ToolCallPart) and part.tool_name == "read_file"
    assert isinstance(part.args, str) and '"path":' in part.args  # the raw text: PydanticAI asks for a retry


async def test_structured_tool_calls_still_work() -> None:
    call = {"index": 0, "id": "srv-1", "type": "function", "function": {"name": "list_dir", "arguments": "{}"}}
    with fake_openai_server() as server:
        server.script(
            Reply(sse([chunk({"content": "Listing."}), chunk({"tool_calls": [call]}), chunk({}, "tool_calls")]))
        )
        response, _ = await reply_of(server)
    assert shape(response) == [("text", "Listing."), ("call", ("list_dir", {}))]
    assert response.parts[1].tool_call_id == "srv-1"  # type: ignore[union-attr]
    assert response.finish_reason == "tool_call"


async def test_recovered_calls_get_distinct_ids_that_do_not_change() -> None:
    content = '<tool_call>{"name": "list_dir", "arguments": {}}</tool_call>' * 2
    with fake_openai_server() as server:
        server.script(sse_reply(content), sse_reply(content))
        first, events = await reply_of(server)
        second, _ = await reply_of(server)
    ids = [p.tool_call_id for p in [*first.parts, *second.parts] if isinstance(p, ToolCallPart)]
    assert len(ids) == 4 and len(set(ids)) == 4
    started = [
        e.part.tool_call_id for e in events if isinstance(e, PartStartEvent) and isinstance(e.part, ToolCallPart)
    ]
    assert started == ids[:2]  # the id announced while streaming is the one kept
    assert first.finish_reason == "tool_call"


async def test_text_before_a_call_streams_before_the_call_is_complete() -> None:
    content = 'Opening it now. <tool_call>{"name": "read_file", "arguments": {"path": "' + "p" * 300
    body = sse_reply(content, step=4).body
    events: list[ModelResponseStreamEvent] = []
    with fake_openai_server() as server:
        server.script(Reply(body, drop_after=len(body) - 40))  # the server dies mid-call
        with pytest.raises(ModelNotAvailable, match="closed the connection in the middle of the reply"):
            await reply_of(server, events=events)
    [start] = [e for e in events if isinstance(e, PartStartEvent)]  # no call: it never closed
    assert isinstance(start.part, TextPart)
    deltas = [
        e.delta.content_delta for e in events if isinstance(e, PartDeltaEvent) and isinstance(e.delta, TextPartDelta)
    ]
    assert start.part.content + "".join(deltas) == "Opening it now."


async def test_every_request_carries_stop_sequences_and_generation_settings() -> None:
    with fake_openai_server() as server:
        await reply_of(server, {"max_tokens": 77, "temperature": 0.25, "top_p": 0.5, "stop_sequences": ["END"]})
        [body] = server.requests
    assert body["max_tokens"] == 77 and body["temperature"] == 0.25 and body["top_p"] == 0.5
    assert body["stop"][:2] == ["<|im_end|>", "<|endoftext|>"]
    assert "<|im_start|>" in body["stop"] and "END" in body["stop"]  # the family's, and the caller's
    assert body["stream"] is True
    assert json.dumps(body["stop"]).count("im_end") == 1


async def test_both_reasoning_fields_with_the_same_text_show_once() -> None:
    events = [chunk({"reasoning": "Hm.", "reasoning_content": "Hm."}), chunk({"content": "Yes."}), chunk({}, "stop")]
    with fake_openai_server() as server:
        server.script(Reply(sse(events)))
        response, _ = await reply_of(server)
    assert shape(response) == [("thinking", "Hm."), ("text", "Yes.")]
