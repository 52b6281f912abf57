from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from punie_acp.acp.transport import StdioTransport, check_message

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize(
    ("message", "code", "id_"),
    [
        ([1, 2], -32600, None),
        ("text", -32600, None),
        ({"jsonrpc": "2.0", "id": {"x": 1}, "method": "a"}, -32600, None),
        ({"jsonrpc": "1.0", "id": 3, "method": "a"}, -32600, 3),
        ({"jsonrpc": "2.0", "id": 4}, -32600, 4),
        ({"jsonrpc": "2.0", "id": 5, "method": 7}, -32600, 5),
        ({"jsonrpc": "2.0", "id": 6, "method": "a", "params": 3}, -32600, 6),
    ],
)
def test_invalid_messages_get_an_error_with_their_id(message: Any, code: int, id_: Any) -> None:
    problem = check_message(message)
    assert problem is not None
    assert problem["error"]["code"] == code
    assert problem["id"] == id_


@pytest.mark.parametrize(
    "message",
    [
        {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {}},
        {"jsonrpc": "2.0", "method": "session/cancel", "params": {"sessionId": "x"}},
        {"jsonrpc": "2.0", "id": 2, "result": {}},
        {"jsonrpc": "2.0", "id": "s", "error": {"code": 1, "message": "m"}},
    ],
)
def test_valid_messages_pass(message: Any) -> None:
    assert check_message(message) is None


class _Sink:
    def __init__(self) -> None:
        self.data = bytearray()

    def write(self, data: bytes) -> None:
        self.data.extend(data)

    async def drain(self) -> None:
        return None

    def close(self) -> None:
        return None


async def test_transport_answers_garbage_and_returns_the_next_good_message() -> None:
    reader = asyncio.StreamReader(limit=64)
    sink = _Sink()
    transport = StdioTransport(reader, sink, max_line_bytes=64)  # type: ignore[arg-type]
    reader.feed_data(b"{oops\n" + b"x" * 500 + b"\n\n" + b'{"jsonrpc":"2.0","id":1,"method":"m"}\n')
    reader.feed_eof()
    message = await transport.receive()
    assert message == {"jsonrpc": "2.0", "id": 1, "method": "m"}
    assert await transport.receive() is None
    answers = [json.loads(line) for line in sink.data.decode().splitlines()]
    assert [a["error"]["code"] for a in answers] == [-32700, -32600]
    assert "longer than 64 bytes" in answers[1]["error"]["message"]
