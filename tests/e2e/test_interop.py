"""What strict third-party clients (Toad, acpx) need, checked on the raw stdout of `punie serve`.

Toad type-checks updates: it drops a `tool_call_update` whose `rawOutput` (or `rawInput`) is not
an object, and shows a new file's write permission without a diff unless `"oldText": null` is
there. The SDK leaves None out when it serialises, so only the bytes tell.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

from tests.e2e.scripts import write_script
from tests.support.acp_client import PUNIE, server_env


class RawClient:
    """An editor double that speaks raw lines and records every line the server wrote."""

    def __init__(self, model: str, log_dir: Path) -> None:
        self.proc = subprocess.Popen(
            [*PUNIE, "serve", "--model", model],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=server_env(log_dir),
        )
        self.lines: list[dict[str, Any]] = []

    def send(self, message: dict[str, Any]) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps(message).encode() + b"\n")
        self.proc.stdin.flush()

    def until_response(self, id_: int, permission: str = "allow_once") -> dict[str, Any]:
        """Read lines until the answer to request `id_`, granting every permission asked on the way."""
        assert self.proc.stdout is not None
        while True:
            line = self.proc.stdout.readline()
            assert line, "the server closed stdout"
            message: dict[str, Any] = json.loads(line)
            self.lines.append(message)
            if message.get("method") == "session/request_permission":
                outcome = {"outcome": "selected", "optionId": permission}
                self.send({"jsonrpc": "2.0", "id": message["id"], "result": {"outcome": outcome}})
            elif message.get("id") == id_ and "method" not in message:
                return message

    def close(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        self.proc.wait(timeout=60)


def _tool_calls(lines: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every tool call the server showed: in updates, and in permission requests."""
    calls = [m["params"]["toolCall"] for m in lines if m.get("method") == "session/request_permission"]
    calls += [
        m["params"]["update"]
        for m in lines
        if m.get("method") == "session/update"
        and m["params"]["update"]["sessionUpdate"] in ("tool_call", "tool_call_update")
    ]
    return calls


def test_tool_calls_go_out_as_strict_clients_expect(tmp_path: Path, project: Path) -> None:
    model = write_script(
        tmp_path,
        [
            [{"call": "write_file", "args": {"path": "new.py", "content": "x = 1\n"}}],
            [{"call": "read_file", "args": {"path": "hello.py"}}],
            [{"say": "done"}],
        ],
    )
    client = RawClient(model, tmp_path)
    try:
        client.send({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"protocolVersion": 1}})
        client.until_response(1)
        client.send(
            {"jsonrpc": "2.0", "id": 2, "method": "session/new", "params": {"cwd": str(project), "mcpServers": []}}
        )
        sid = client.until_response(2)["result"]["sessionId"]
        prompt = [{"type": "text", "text": "create new.py"}]
        client.send(
            {"jsonrpc": "2.0", "id": 3, "method": "session/prompt", "params": {"sessionId": sid, "prompt": prompt}}
        )
        assert client.until_response(3)["result"] == {"stopReason": "end_turn"}
    finally:
        client.close()
    assert (project / "new.py").read_text() == "x = 1\n"

    calls = _tool_calls(client.lines)
    diffs = [item for call in calls for item in call.get("content") or [] if item["type"] == "diff"]
    assert diffs, calls
    # A new file: the key is there, and null (not left out, not "").
    assert all("oldText" in d and d["oldText"] is None for d in diffs), diffs
    asked = [m for m in client.lines if m.get("method") == "session/request_permission"]
    assert asked and any(item["type"] == "diff" for item in asked[0]["params"]["toolCall"]["content"])

    finals = [c for c in calls if c.get("status") in ("completed", "failed")]
    assert len(finals) == 2
    assert all(isinstance(c["rawOutput"], dict) for c in finals), finals
    assert "answer = 42" in finals[1]["rawOutput"]["output"]
    assert all(isinstance(c["rawInput"], dict) for c in calls if "rawInput" in c), calls
