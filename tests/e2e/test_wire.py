"""Raw bytes on the server's stdin/stdout: malformed input is answered, stdout stays protocol-only."""

from __future__ import annotations

import json
import subprocess
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from tests.support.acp_client import PUNIE, server_env


def _run(lines: list[bytes], log_dir: Path, extra_env: dict[str, str] | None = None) -> list[Any]:
    """Every line the server wrote, parsed strictly: objects, and arrays where it answered a batch."""
    proc = subprocess.run(
        [*PUNIE, "serve", "--model", "test"],
        input=b"".join(line + b"\n" for line in lines),
        capture_output=True,
        env=server_env(log_dir, extra_env),
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr.decode()
    out = proc.stdout.decode().splitlines()
    messages = [json.loads(line, parse_constant=_not_json) for line in out]  # nothing else leaks
    assert all(m.get("jsonrpc") == "2.0" for m in _flat(messages))
    return messages


def _not_json(name: str) -> Any:
    raise AssertionError(f"{name} on stdout is not JSON")


def _flat(messages: list[Any]) -> list[dict[str, Any]]:
    return [m for item in messages for m in (item if isinstance(item, list) else [item])]


def _req(id_: int, method: str, params: dict[str, Any]) -> bytes:
    return json.dumps({"jsonrpc": "2.0", "id": id_, "method": method, "params": params}).encode()


def test_malformed_lines_get_errors_and_the_server_keeps_serving(tmp_path: Path) -> None:
    messages = _run(
        [
            b"this is not json",
            b"[1, 2, 3]",
            b'{"jsonrpc": "1.0", "id": 7, "method": "initialize"}',
            b'{"jsonrpc": "2.0", "id": 8, "method": 42}',
            b'{"jsonrpc": "2.0", "id": 9, "method": "initialize", "params": "oops"}',
            _req(10, "no/such/method", {}),
            _req(11, "session/new", {"cwd": 5}),
            _req(1, "initialize", {"protocolVersion": 1}),
        ],
        tmp_path,
    )
    batches = [[m["error"]["code"] for m in item] for item in messages if isinstance(item, list)]
    by_id: dict[Any, list[dict[str, Any]]] = {}
    for m in (item for item in messages if isinstance(item, dict)):
        by_id.setdefault(m.get("id"), []).append(m)
    assert [m["error"]["code"] for m in by_id[None]] == [-32700]
    # `[1, 2, 3]` is a batch of three invalid requests: one error for each, in an array (JSON-RPC 2.0).
    assert batches == [[-32600] * 3]
    assert by_id[7][0]["error"]["code"] == -32600
    assert by_id[8][0]["error"]["code"] == -32600
    assert by_id[9][0]["error"]["code"] == -32600
    assert by_id[10][0]["error"]["code"] == -32601
    assert by_id[11][0]["error"]["code"] == -32602
    assert by_id[1][0]["result"]["protocolVersion"] == 1


def test_over_long_line_is_refused_without_killing_the_server(tmp_path: Path) -> None:
    huge = _req(2, "initialize", {"protocolVersion": 1, "padding": "x" * 300_000})
    messages = _run(
        [huge, _req(3, "initialize", {"protocolVersion": 1})],
        tmp_path,
        {"PUNIE_MAX_MESSAGE_BYTES": "65536"},
    )
    assert messages[0]["id"] is None and messages[0]["error"]["code"] == -32600
    assert "longer than 65536 bytes" in messages[0]["error"]["message"]
    assert messages[1]["id"] == 3 and messages[1]["result"]["protocolVersion"] == 1


def test_stdout_carries_only_protocol_during_a_whole_turn(tmp_path: Path, project: Path) -> None:
    proc = subprocess.Popen(
        [*PUNIE, "serve", "--model", "test"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env=server_env(tmp_path),
    )
    assert proc.stdin is not None and proc.stdout is not None

    def send(line: bytes) -> None:
        assert proc.stdin is not None
        proc.stdin.write(line + b"\n")
        proc.stdin.flush()

    def until_response(id_: int) -> list[dict[str, Any]]:
        assert proc.stdout is not None
        got: list[dict[str, Any]] = []
        while not got or got[-1].get("id") != id_:
            got.append(json.loads(proc.stdout.readline()))  # fails loudly on any non-JSON line
        return got

    try:
        send(_req(1, "initialize", {"protocolVersion": 1}))
        until_response(1)
        send(_req(2, "session/new", {"cwd": str(project), "mcpServers": []}))
        sid = until_response(2)[-1]["result"]["sessionId"]
        send(_req(3, "session/prompt", {"sessionId": sid, "prompt": [{"type": "text", "text": "read hello.py"}]}))
        turn = until_response(3)
    finally:
        proc.stdin.close()
        proc.wait(timeout=60)
    assert turn[-1] == {"jsonrpc": "2.0", "id": 3, "result": {"stopReason": "end_turn"}}
    assert {m["params"]["update"]["sessionUpdate"] for m in turn[:-1]} >= {
        "agent_thought_chunk",
        "tool_call",
        "tool_call_update",
        "agent_message_chunk",
    }
    assert proc.stdout is not None and proc.stdout.read() == b""  # nothing after the last answer either


def test_client_that_disappears_mid_turn_ends_the_server_cleanly(tmp_path: Path, project: Path) -> None:
    from tests.e2e.scripts import write_script

    model = write_script(tmp_path, [[{"say": " ".join(["word"] * 100_000)}]], chunk_delay=0.001)
    proc = subprocess.Popen(
        [*PUNIE, "serve", "--model", model],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=server_env(tmp_path),
    )
    assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None
    proc.stdin.write(_req(1, "initialize", {"protocolVersion": 1}) + b"\n")
    proc.stdin.write(_req(2, "session/new", {"cwd": str(project), "mcpServers": []}) + b"\n")
    proc.stdin.flush()
    json.loads(proc.stdout.readline())
    sid = json.loads(proc.stdout.readline())["result"]["sessionId"]
    proc.stdin.write(_req(3, "session/prompt", {"sessionId": sid, "prompt": [{"type": "text", "text": "go"}]}) + b"\n")
    proc.stdin.flush()
    first = json.loads(proc.stdout.readline())
    assert first["method"] == "session/update"  # streaming has begun
    # The editor goes away: both pipes close under the running turn.
    proc.stdin.close()
    proc.stdout.close()
    assert proc.wait(timeout=60) == 0
    stderr = proc.stderr.read().decode()
    assert "Traceback" not in stderr, stderr


_PROBE = _req(999, "session/list", {})
_INIT = _req(1, "initialize", {"protocolVersion": 1})
# The lines from the issue, with the answer each must get: (id, error code), or None for nothing.
_HOSTILE: list[tuple[str, bytes, tuple[Any, int] | None]] = [
    ("100k nested [", b"[" * 100_000, (None, -32700)),
    ("100k nested {", b'{"a":' * 100_000, (None, -32700)),
    (
        "10k nested params",
        b'{"jsonrpc":"2.0","id":5,"method":"session/new","params":' + b"[" * 10_000 + b"]" * 10_000 + b"}",
        (None, -32700),
    ),
    (
        "200 nested params",
        b'{"jsonrpc":"2.0","id":6,"method":"session/new","params":{"cwd":' + b"[" * 200 + b"]" * 200 + b"}}",
        (6, -32600),
    ),
    ("NaN in params", b'{"jsonrpc":"2.0","id":7,"method":"session/new","params":{"cwd":NaN}}', (None, -32700)),
    ("1e999 in params", b'{"jsonrpc":"2.0","id":8,"method":"session/new","params":{"cwd":1e999}}', (8, -32600)),
    (
        "10^5-digit integer",
        b'{"jsonrpc":"2.0","id":9,"method":"session/new","params":{"cwd":1' + b"0" * 100_000 + b"}}",
        (9, -32600),
    ),
    ("lone surrogate method", b'{"jsonrpc":"2.0","id":10,"method":"\\ud800","params":{}}', (10, -32601)),
    (
        "lone surrogate sessionId",
        b'{"jsonrpc":"2.0","id":11,"method":"session/set_mode","params":{"sessionId":"\\udc00","modeId":"x"}}',
        (11, -32002),
    ),
    ("float id", b'{"jsonrpc":"2.0","id":12.5,"method":"no/such","params":{}}', (12.5, -32601)),
    ("bool id", b'{"jsonrpc":"2.0","id":true,"method":"session/list","params":{}}', (None, -32600)),
    (
        "protocolVersion 70000",
        b'{"jsonrpc":"2.0","id":13,"method":"initialize","params":{"protocolVersion":70000}}',
        (13, -32602),
    ),
    ("invalid UTF-8", b'{"jsonrpc":"2.0","id":14,"method":"session/list\xff"}', (None, -32700)),
    ("raw NUL", b'{"jsonrpc":"2.0","id":15,"method":"session/list\x00"}', (None, -32700)),
    ("unknown notification", b'{"jsonrpc":"2.0","method":"no/such/notification","params":{}}', None),
    ("reply to nothing", b'{"jsonrpc":"2.0","id":77,"error":"x"}', None),
]


def _answers_after(lines: list[bytes], log_dir: Path) -> list[dict[str, Any]]:
    messages = _run([*lines, _PROBE], log_dir)
    assert messages[-1]["id"] == 999 and "result" in messages[-1], messages[-1]  # still serving
    return messages[:-1]


def test_hostile_lines_after_initialize_each_get_their_answer(tmp_path: Path) -> None:
    answers = _answers_after([_INIT] + [line for _, line, _ in _HOSTILE], tmp_path)
    assert answers[0]["id"] == 1 and "result" in answers[0]
    got = Counter((a["id"], a["error"]["code"]) for a in answers[1:])  # requests run concurrently: any order
    assert got == Counter(want for _, _, want in _HOSTILE if want is not None)
    log = (tmp_path / "punie.log").read_text()
    assert "Traceback" not in log and " ERROR " not in log  # the unknown notification too: ignored quietly


@pytest.mark.parametrize("name", [name for name, _, want in _HOSTILE if want is not None])
def test_a_hostile_first_line_is_answered_and_the_server_keeps_serving(name: str, tmp_path: Path) -> None:
    # The first line meets the early-start path, before the SDK is even imported.
    line, want = next((line, want) for n, line, want in _HOSTILE if n == name)
    answers = _answers_after([line], tmp_path)
    assert [(a["id"], a["error"]["code"]) for a in answers] == [want]


def test_initialize_with_capabilities_of_the_wrong_type_first(tmp_path: Path) -> None:
    # Was: answered, then the agent failed to adopt them and the process exited 1.
    bad = _req(1, "initialize", {"protocolVersion": 1, "clientCapabilities": {"fs": "x", "terminal": [1]}})
    answers = _answers_after([bad], tmp_path)
    assert answers == [{"jsonrpc": "2.0", "id": 1, "result": answers[0]["result"]}]
    assert answers[0]["result"]["protocolVersion"] == 1


def test_the_early_answer_is_byte_identical_to_the_sdk_path(tmp_path: Path) -> None:
    proc = subprocess.run(
        [*PUNIE, "serve", "--model", "test"],
        input=_INIT + b"\n" + _INIT + b"\n",  # the first is answered early, the second by the SDK
        capture_output=True,
        env=server_env(tmp_path),
        timeout=120,
    )
    early, sdk = proc.stdout.splitlines()
    assert early == sdk


def test_thousands_of_pipelined_requests_each_get_one_answer(tmp_path: Path) -> None:
    # `initialize`: answered without waiting on anything (`session/list` now reads the session store on
    # its own thread, so 3000 of them at once are more than the in-flight bound lets run).
    lines = [_req(i, "initialize", {"protocolVersion": 1}) for i in range(3000)]
    answers = _answers_after(lines, tmp_path)
    assert sorted(a["id"] for a in answers) == list(range(3000))
    # Quick requests finish while the rest are read: none is refused for being in flight.
    assert all("result" in a for a in answers)
