"""Start-up through the real command: `session/new` is answered before PydanticAI is imported,
and peers that do not wait for start-up to finish get the same answers as those that do.

Requests go out as raw lines, written the moment the process exists (before anything is
answered), so each lands while the server is still importing.
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.lazy_probe import PROBE
from tests.support.acp_client import PUNIE, server_env

pytestmark = pytest.mark.anyio

WAIT_S = 120  # generous: a failure, not a speed limit


class RawPeer:
    """A client that writes JSON-RPC lines whenever it likes and reads whatever comes back."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc
        self.seen: list[dict[str, Any]] = []

    def send(self, message: dict[str, Any]) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write((json.dumps({"jsonrpc": "2.0", **message}) + "\n").encode())

    async def response(self, id_: int) -> dict[str, Any]:
        while True:
            for message in self.seen:
                if message.get("id") == id_ and "method" not in message:
                    return message
            await self._read()

    async def updates(self, session_id: str, kind: str) -> list[dict[str, Any]]:
        return [
            m["params"]["update"]
            for m in self.seen
            if m.get("method") == "session/update"
            and m["params"]["sessionId"] == session_id
            and m["params"]["update"]["sessionUpdate"] == kind
        ]

    async def _read(self) -> None:
        assert self.proc.stdout is not None
        line = await asyncio.wait_for(self.proc.stdout.readline(), WAIT_S)
        assert line, "punie serve closed stdout"
        message = json.loads(line)
        if message.get("method") == "session/request_permission":
            self.send({"id": message["id"], "result": {"outcome": {"outcome": "cancelled"}}})
        self.seen.append(message)

    async def close(self) -> tuple[int, str]:
        assert self.proc.stdin is not None and self.proc.stderr is not None
        self.proc.stdin.close()
        stderr = await asyncio.wait_for(self.proc.stderr.read(), WAIT_S)
        return await asyncio.wait_for(self.proc.wait(), WAIT_S), stderr.decode()


async def _spawn(tmp_path: Path, *command: str) -> RawPeer:
    proc = await asyncio.create_subprocess_exec(
        *command,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=server_env(tmp_path),
    )
    return RawPeer(proc)


def _initialize(id_: int = 1) -> dict[str, Any]:
    return {"id": id_, "method": "initialize", "params": {"protocolVersion": 1}}


def _new(id_: int, cwd: str) -> dict[str, Any]:
    return {"id": id_, "method": "session/new", "params": {"cwd": cwd, "mcpServers": []}}


def _prompt(id_: int, session_id: str, text: str) -> dict[str, Any]:
    return {
        "id": id_,
        "method": "session/prompt",
        "params": {"sessionId": session_id, "prompt": [{"type": "text", "text": text}]},
    }


def _reply(peer: RawPeer, session_id: str) -> str:
    return "".join(
        m["params"]["update"]["content"]["text"]
        for m in peer.seen
        if m.get("method") == "session/update"
        and m["params"]["sessionId"] == session_id
        and m["params"]["update"]["sessionUpdate"] == "agent_message_chunk"
    )


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    root.mkdir()
    (root / "notes.txt").write_text("start-up notes\n")
    return root


async def test_session_new_is_answered_before_pydantic_ai_is_imported_and_the_turn_still_works(
    tmp_path: Path, project: Path
) -> None:
    peer = await _spawn(tmp_path, sys.executable, "-m", "tests.e2e.lazy_probe", "serve", "--model", "test")
    peer.send(_initialize())
    peer.send(_new(2, str(project)))
    answer = await peer.response(2)
    session_id = answer["result"]["sessionId"]
    assert [m["id"] for m in answer["result"]["modes"]["availableModes"]]
    assert {o["id"] for o in answer["result"]["configOptions"]} >= {"mode", "model"}
    peer.send(_prompt(3, session_id, "what is in notes.txt?"))
    ended = await peer.response(3)
    assert ended["result"]["stopReason"] == "end_turn"
    assert _reply(peer, session_id).strip()
    assert await peer.updates(session_id, "available_commands_update")
    code, stderr = await peer.close()
    assert code == 0
    assert f"{PROBE} False" in stderr


async def test_a_bad_cwd_during_start_up_gets_its_error_and_the_next_session_works(
    tmp_path: Path, project: Path
) -> None:
    peer = await _spawn(tmp_path, *PUNIE, "serve", "--model", "test")
    peer.send(_initialize())
    peer.send(_new(2, "relative/dir"))
    peer.send(_new(3, str(tmp_path / "missing")))
    peer.send(_new(4, str(project / "notes.txt")))
    peer.send(_new(5, str(project)))
    for id_ in (2, 3, 4):
        error = (await peer.response(id_))["error"]
        assert error["code"] == -32602, error
        assert error["message"] and "Traceback" not in error["message"]
    session_id = (await peer.response(5))["result"]["sessionId"]
    peer.send(_prompt(6, session_id, "hello"))
    assert (await peer.response(6))["result"]["stopReason"] == "end_turn"
    code, _ = await peer.close()
    assert code == 0


async def test_a_prompt_written_with_session_new_waits_for_the_imports_and_runs(tmp_path: Path, project: Path) -> None:
    peer = await _spawn(tmp_path, *PUNIE, "serve", "--model", "test")
    peer.send(_initialize())
    peer.send(_new(2, str(project)))
    session_id = (await peer.response(2))["result"]["sessionId"]
    # At once: the turn modules are still importing (they start once session/new is answered).
    peer.send(_prompt(3, session_id, "what is in notes.txt?"))
    ended = await peer.response(3)
    assert ended["result"]["stopReason"] == "end_turn"
    assert "start-up notes" in json.dumps(peer.seen)  # read_file ran: the tools were loaded for it
    code, _ = await peer.close()
    assert code == 0


async def test_cancel_during_start_up_stops_the_waiting_prompt(tmp_path: Path, project: Path) -> None:
    peer = await _spawn(tmp_path, *PUNIE, "serve", "--model", "test")
    peer.send(_initialize())
    peer.send({"method": "session/cancel", "params": {"sessionId": "no-such-session"}})
    peer.send(_new(2, str(project)))
    session_id = (await peer.response(2))["result"]["sessionId"]
    peer.send(_prompt(3, session_id, "hello"))
    peer.send({"method": "session/cancel", "params": {"sessionId": session_id}})
    assert (await peer.response(3))["result"]["stopReason"] == "cancelled"
    peer.send(_prompt(4, session_id, "hello again"))
    assert (await peer.response(4))["result"]["stopReason"] == "end_turn"
    code, _ = await peer.close()
    assert code == 0


@pytest.mark.parametrize("written", [0, 1, 2])
async def test_stdin_closed_during_start_up_ends_the_server_cleanly(
    tmp_path: Path, project: Path, written: int
) -> None:
    peer = await _spawn(tmp_path, *PUNIE, "serve", "--model", "test")
    for message in [_initialize(), _new(2, str(project))][:written]:
        peer.send(message)
    code, stderr = await peer.close()
    assert code == 0, stderr
    assert "Traceback" not in stderr
