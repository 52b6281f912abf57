"""Raw bytes on the server's stdin/stdout: malformed input is answered, stdout stays protocol-only."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

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
