from __future__ import annotations

import json
import os
from typing import Any

import pytest
from acp import schema
from hypothesis import given, settings
from hypothesis import strategies as st

from punie_acp.acp.capabilities import initialize_result
from punie_acp.acp.early import EarlyStart, early_start
from punie_acp.acp.host import capabilities_of
from punie_acp.acp.wire import encode_message


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


def _early(first_line: bytes) -> tuple[EarlyStart, bytes]:
    out_read, out_write = os.pipe()
    early = early_start(_pipe_with(first_line + b"\n"), out_write, 1 << 20)
    os.close(out_write)
    return early, os.read(out_read, 1 << 16)


@pytest.mark.parametrize(
    "line",
    [
        b"[" * 60_000,  # (under the pipe's buffer: the test writes it all before reading)
        b'{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":1,"x":NaN}}',
        b'{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":1,"x":1e999}}',
        b'{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":70000}}',
        b'{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":-1}}',
        b'{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":true}}',
        b'{"jsonrpc":"2.0","id":true,"method":"initialize","params":{"protocolVersion":1}}',
        b'{"jsonrpc":"2.0","id":1.5,"method":"initialize","params":{"protocolVersion":1}}',
        b'{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":1,"d":'
        + b"[" * 100
        + b"]" * 100
        + b"}}",
    ],
)
def test_doubtful_first_lines_are_left_for_the_sdk_path(line: bytes) -> None:
    # Before: a RecursionError here killed the process; NaN was accepted; 70000 was answered and
    # the agent then failed to adopt it (exit 1). Now the real transport answers them.
    early, written = _early(line)
    assert written == b"" and early.initialize_params is None
    assert early.leftover == line + b"\n"


@pytest.mark.parametrize(
    ("capabilities", "adopted"),
    [
        ("x", {}),
        ([1], {}),
        ({"fs": "x", "terminal": "yes"}, {}),
        (
            {"fs": {"readTextFile": 1, "writeTextFile": True}, "terminal": True},
            {"fs": {"writeTextFile": True}, "terminal": True},
        ),
    ],
)
def test_capabilities_of_the_wrong_type_are_not_offered(capabilities: Any, adopted: dict[str, Any]) -> None:
    line = json.dumps(
        {
            "jsonrpc": "2.0",
            "id": "a\ud800",
            "method": "initialize",
            "params": {"protocolVersion": 1, "clientCapabilities": capabilities, "clientInfo": {"name": 3}},
        }
    ).encode()
    early, written = _early(line)
    assert json.loads(written) == {"jsonrpc": "2.0", "id": "a\ufffd", "result": initialize_result()}
    assert early.initialize_params == {"protocolVersion": 1, "clientCapabilities": adopted}


_any_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=12), inner, max_size=3),
    max_leaves=10,
)
_param_keys = st.sampled_from(["protocolVersion", "clientCapabilities", "clientInfo", "_meta"])


@settings(max_examples=200, deadline=None)
@given(
    st.dictionaries(_param_keys, _any_json | st.integers(0, 70_000)),
    st.fixed_dictionaries(
        {},
        optional={
            "fs": st.dictionaries(st.sampled_from(["readTextFile", "writeTextFile"]), _any_json) | _any_json,
            "terminal": _any_json,
        },
    ),
)
def test_whatever_is_answered_early_the_agent_can_adopt(params: dict[str, Any], capabilities: dict[str, Any]) -> None:
    if "clientCapabilities" not in params:
        params["clientCapabilities"] = capabilities
    line = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": params}).encode()
    early, written = _early(line)
    if early.initialize_params is None:
        assert written == b""
        return
    request = schema.InitializeRequest.model_validate(early.initialize_params)
    assert isinstance(request.client_capabilities, schema.ClientCapabilities)  # not the SDK's salvaged dict
    assert capabilities_of(request.client_capabilities) is not None
    assert written == encode_message({"jsonrpc": "2.0", "id": 1, "result": initialize_result()})
