from __future__ import annotations

import asyncio
import json
import math
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
        ({"jsonrpc": "2.0", "id": True, "method": "a"}, -32600, None),  # a bool is not a number in JSON
        ({"jsonrpc": "2.0", "id": [1], "method": "a"}, -32600, None),
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
        {"jsonrpc": "2.0", "id": 1.5, "method": "session/list"},  # fractions are discouraged, not invalid
        {"jsonrpc": "2.0", "id": None, "method": "session/list"},
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


def _transport(lines: list[bytes], max_in_flight: int = 8) -> tuple[StdioTransport, _Sink]:
    reader = asyncio.StreamReader(limit=1 << 20)
    sink = _Sink()
    transport = StdioTransport(reader, sink, max_line_bytes=1 << 20, max_in_flight=max_in_flight)  # type: ignore[arg-type]
    reader.feed_data(b"".join(line + b"\n" for line in lines))
    reader.feed_eof()
    return transport, sink


def _written(sink: _Sink) -> list[Any]:
    def refuse(name: str) -> Any:
        raise AssertionError(f"{name} written")

    return [json.loads(line, parse_constant=refuse) for line in sink.data.decode("utf-8").splitlines()]


async def _all(transport: StdioTransport) -> list[dict[str, Any]]:
    got = []
    while (message := await transport.receive()) is not None:
        got.append(message)
    return got


async def test_malformed_responses_fail_the_request_they_answer() -> None:
    transport, sink = _transport(
        [
            b'{"jsonrpc":"2.0","id":0,"error":"denied"}',  # the SDK would stop reading on this
            b'{"jsonrpc":"2.0","id":1,"result":{},"error":{"code":1,"message":"m"}}',
            b'{"jsonrpc":"2.0","id":2,"error":{"code":true,"message":"m"}}',
            b'{"jsonrpc":"2.0","id":3,"result":{"outcome":{"outcome":"cancelled"}}}',
            b'{"jsonrpc":"2.0","id":99,"result":{}}',  # answers nothing we asked: dropped
            b'{"jsonrpc":"2.0","id":3,"result":{}}',  # answered already: dropped
            b'{"jsonrpc":"2.0","id":4,"result":{"x":1e999}}',  # beyond the limits: fails request 4
        ]
    )
    for id_ in range(5):
        await transport.send({"jsonrpc": "2.0", "id": id_, "method": "session/request_permission", "params": {}})
    got = await _all(transport)
    assert [m["id"] for m in got] == [0, 1, 2, 3, 4]
    assert [m["error"]["code"] for m in got if "error" in m] == [-32603] * 4
    assert "error must be an object" in got[0]["error"]["message"]
    assert got[3] == {"jsonrpc": "2.0", "id": 3, "result": {"outcome": {"outcome": "cancelled"}}}
    assert "number out of range" in got[4]["error"]["message"]
    assert len(_written(sink)) == 5  # only our five requests: nothing answered to responses


async def test_notifications_get_nothing_and_only_known_ones_reach_the_agent() -> None:
    transport, sink = _transport(
        [
            b'{"jsonrpc":"2.0","method":"no/such/notification","params":{}}',
            b'{"jsonrpc":"2.0","method":"session/cancel","params":[]}',
            b'{"jsonrpc":"2.0","method":"session/cancel","params":{"sessionId":7}}',
            b'{"jsonrpc":"2.0","method":"session/cancel","params":"oops"}',
            b'{"jsonrpc":"1.0","method":"session/cancel","params":{"sessionId":"s"}}',
            b'{"jsonrpc":"2.0","method":"session/cancel","params":{"sessionId":"s"}}',
            b'{"jsonrpc":"2.0","method":"_vendor/ping"}',
        ]
    )
    got = await _all(transport)
    assert [m["method"] for m in got] == ["session/cancel", "_vendor/ping"]
    assert sink.data == b""


async def test_batches_are_refused_one_answer_per_request() -> None:
    transport, sink = _transport(
        [
            b"[]",
            b'[{"jsonrpc":"2.0","id":"a","method":"session/list"},{"jsonrpc":"2.0","method":"session/cancel"},1]',
            b'[{"jsonrpc":"2.0","method":"session/cancel","params":{"sessionId":"s"}}]',
        ]
    )
    assert await _all(transport) == []
    empty, batch = _written(sink)  # a batch of notifications only gets nothing
    assert empty["id"] is None and empty["error"]["code"] == -32600
    assert [(a["id"], a["error"]["code"]) for a in batch] == [("a", -32600), (None, -32600)]


async def test_requests_beyond_the_in_flight_limit_are_refused_at_once() -> None:
    lines = [json.dumps({"jsonrpc": "2.0", "id": i, "method": "session/list"}).encode() for i in range(4)]
    transport, sink = _transport(lines, max_in_flight=2)
    assert (await transport.receive() or {})["id"] == 0
    assert (await transport.receive() or {})["id"] == 1
    await transport.send({"jsonrpc": "2.0", "id": 0, "result": {}})  # one answered: room for one more
    assert (await transport.receive() or {})["id"] == 2
    assert await transport.receive() is None
    refused = _written(sink)[-1]
    assert refused["id"] == 3 and refused["error"]["code"] == -32603
    assert "Too many requests in flight (2)" in refused["error"]["message"]


async def test_everything_sent_is_strict_json() -> None:
    transport, sink = _transport([])
    await transport.send(
        {"jsonrpc": "2.0", "id": "\ud800", "error": {"code": -32601, "message": "\udfff", "data": math.nan}}
    )
    await transport.send({"jsonrpc": "2.0", "id": 1, "result": {"x": object()}})  # not JSON at all
    first, second = _written(sink)
    assert first == {"jsonrpc": "2.0", "id": "\ufffd", "error": {"code": -32601, "message": "\ufffd", "data": None}}
    assert second["id"] == 1 and second["error"]["code"] == -32603


async def test_an_error_that_echoes_too_much_is_cut_down() -> None:
    # pydantic reports every bad item of a long array, each with its input: 100x the request.
    errors = [{"type": "string_type", "loc": ["prompt", i], "msg": "bad", "input": "x" * 1000} for i in range(500)]
    transport, sink = _transport([])
    await transport.send(
        {"jsonrpc": "2.0", "id": 4, "error": {"code": -32602, "message": "Invalid params", "data": {"errors": errors}}}
    )
    assert len(sink.data) < 64 * 1024
    (answer,) = _written(sink)
    assert answer["id"] == 4 and answer["error"]["code"] == -32602
    assert answer["error"]["data"]["omitted"] == 480
    assert answer["error"]["data"]["errors"][0] == {"type": "string_type", "loc": ["prompt", 0], "msg": "bad"}
