from __future__ import annotations

import json
import os

from acp import schema

from punie_acp.acp.capabilities import initialize_result
from punie_acp.acp.early import early_start


def _pipe_with(data: bytes) -> int:
    read_fd, write_fd = os.pipe()
    os.write(write_fd, data)
    os.close(write_fd)
    return read_fd


def test_initialize_is_answered_and_the_rest_is_kept() -> None:
    init = json.dumps(
        {
            "jsonrpc": "2.0",
            "id": 7,
            "method": "initialize",
            "params": {"protocolVersion": 1, "clientCapabilities": {"terminal": True}},
        }
    ).encode()
    rest = b'{"jsonrpc":"2.0","id":8,"method":"session/new","params":{}}\n{"partial'
    out_read, out_write = os.pipe()
    early = early_start(_pipe_with(init + b"\n" + rest), out_write, 1 << 20)
    os.close(out_write)
    reply = json.loads(os.read(out_read, 65536))
    assert reply == {"jsonrpc": "2.0", "id": 7, "result": initialize_result()}
    assert early.leftover == rest
    assert early.initialize_params == {"protocolVersion": 1, "clientCapabilities": {"terminal": True}}


def test_anything_else_first_is_left_for_the_real_transport() -> None:
    data = b'{"jsonrpc":"2.0","id":1,"method":"session/new","params":{}}\nnot json\n'
    out_read, out_write = os.pipe()
    early = early_start(_pipe_with(data), out_write, 1 << 20)
    os.close(out_write)
    assert os.read(out_read, 100) == b""
    assert early.leftover == data and early.initialize_params is None


def test_eof_before_anything() -> None:
    _, out_write = os.pipe()
    early = early_start(_pipe_with(b""), out_write, 1 << 20)
    assert early.leftover == b"" and early.initialize_params is None


def test_early_answer_is_a_valid_sdk_initialize_response() -> None:
    # Round-trips through the SDK's schema with nothing dropped (no unknown or misspelt fields).
    parsed = schema.InitializeResponse.model_validate(initialize_result())
    assert parsed.model_dump(by_alias=True, exclude_unset=True, mode="json") == initialize_result()
