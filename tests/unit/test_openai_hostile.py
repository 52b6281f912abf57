"""A hostile or broken OpenAI-compatible server: every case ends in one clear error naming the
server, with bounded memory, and the next request on the same model still works."""

from __future__ import annotations

import re

import pytest
from pydantic_ai.messages import TextPart, ToolCallPart

from punie_acp.models.base import ModelNotAvailable
from punie_acp.models.toolcalls.reply import MAX_BLOCK_CHARS
from tests.support.fake_openai import Reply, chunk, deltas, fake_openai_server, sse, sse_reply, status_reply
from tests.unit.test_openai_recovery import reply_of

pytestmark = pytest.mark.anyio

HOSTILE = {
    "garbage": Reply(b"data: {not json at all\n\n" * 3),
    "not SSE at all": Reply(b"<html><body>It works!</body></html>", content_type="text/html"),
    "invalid UTF-8": Reply(b'data: {"id": "x", "choices": [{"delta": {"content": "\xff\xfe\xc3"}}]}\n\n'),
    "HTTP 404": status_reply(404, b'{"error": {"message": "model not found"}}'),
    "HTTP 500": status_reply(500, b"Internal Server Error", "text/plain"),
    "dropped mid-stream": Reply(sse_reply("A long answer " * 50).body, drop_after=300),
    "an endless line": Reply(b"data: ", endless=b"x" * 65536),
    "endless text without newlines": Reply(sse([chunk({"content": "a"})]), endless=sse(deltas("b" * 8192, 8192))),
}


@pytest.mark.parametrize("case", list(HOSTILE))
async def test_a_hostile_reply_is_one_clear_error_and_the_model_serves_on(case: str) -> None:
    with fake_openai_server() as server:
        server.fallback = HOSTILE[case]  # also what the SDK's retries get
        with pytest.raises(ModelNotAvailable) as info:
            await reply_of(server, reply_limit=4 << 20)
        server.fallback = sse_reply("Still here.")
        response, _ = await reply_of(server, reply_limit=4 << 20)
    message = str(info.value)
    assert server.base_url in message and "\n" not in message and len(message) < 600
    assert "Traceback" not in message
    assert response.parts == [TextPart(content="Still here.")]


@pytest.mark.parametrize(
    ("case", "says"),
    [
        ("HTTP 404", "has no model 'fake-qwen3' (HTTP 404)"),
        ("HTTP 500", "HTTP 500"),
        ("dropped mid-stream", "closed the connection in the middle of the reply"),
        ("an endless line", "larger than 4 MiB"),
        ("endless text without newlines", "larger than 4 MiB"),
        ("invalid UTF-8", "utf-8"),
        ("not SSE at all", "sent no chat completion"),
    ],
)
async def test_the_error_says_what_went_wrong(case: str, says: str) -> None:
    with fake_openai_server() as server:
        server.fallback = HOSTILE[case]
        with pytest.raises(ModelNotAvailable, match=re.escape(says)):
            await reply_of(server, reply_limit=4 << 20)


async def test_a_gigantic_tool_call_becomes_one_failed_call_and_the_reply_goes_on() -> None:
    huge = '<tool_call>{"name": "read_file", "arguments": {"path": "' + "y" * (MAX_BLOCK_CHARS + 1000) + '"}}'
    huge += "</tool_call>After the call."
    with fake_openai_server() as server:
        server.script(Reply(sse([*deltas(huge, 4096), chunk({}, "stop")]), piece=65536))
        response, _ = await reply_of(server)
    call, text = response.parts
    assert isinstance(call, ToolCallPart) and call.tool_name == "read_file"
    assert isinstance(call.args, str) and len(call.args) <= 2000  # a short excerpt, not the megabyte
    assert text == TextPart(content="After the call.")
