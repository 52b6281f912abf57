"""`punie ask` and `punie init` as real subprocesses: the y/n question on a real terminal (a pty),
Ctrl-C as a real SIGINT, and an editor config from `punie init` that really starts a server."""

from __future__ import annotations

import json
import os
import pty
import select
import signal
import subprocess
import time
from pathlib import Path

import acp
import pytest

from tests.e2e.scripts import write_script
from tests.support.acp_client import PUNIE, RecordingClient, server_env, start_session, text_prompt

WRITE = {"call": "write_file", "args": {"path": "new.txt", "content": "hello"}}


def _read_until(fd: int, wanted: bytes, limit: float = 60.0) -> bytes:
    """What the terminal showed up to `wanted` (a failure guard, not a timing assertion)."""
    seen = b""
    deadline = time.monotonic() + limit
    while wanted not in seen:
        left = deadline - time.monotonic()
        assert left > 0, f"never saw {wanted!r}; saw {seen!r}"
        ready, _, _ = select.select([fd], [], [], left)
        if ready:
            try:
                chunk = os.read(fd, 4096)
            except OSError:  # the child closed the terminal
                chunk = b""
            assert chunk, f"the terminal closed before {wanted!r}; saw {seen!r}"
            seen += chunk
    return seen


def _ask_on_a_terminal(tmp_path: Path, project: Path, answer: bytes) -> tuple[int, bytes]:
    model = write_script(tmp_path, [[WRITE], [{"say": "finished"}]])
    leader, follower = pty.openpty()
    proc = subprocess.Popen(
        [*PUNIE, "ask", "--model", model, "--cwd", str(project), "write it"],
        stdin=follower,
        stderr=follower,
        stdout=subprocess.PIPE,
        env=server_env(tmp_path),
    )
    os.close(follower)
    try:
        shown = _read_until(leader, b"(default no): ")
        os.write(leader, answer)
        assert proc.wait(timeout=120) is not None
    finally:
        os.close(leader)
        if proc.poll() is None:
            proc.kill()
    assert proc.stdout is not None
    proc.stdout.close()
    return proc.returncode, shown


def test_yes_on_the_terminal_allows_the_edit(tmp_path: Path, project: Path) -> None:
    code, shown = _ask_on_a_terminal(tmp_path, project, b"y\n")
    assert code == 0
    assert b"punie wants to edit: Write new.txt" in shown
    assert b"+hello" in shown  # the diff is shown before the question
    assert (project / "new.txt").read_text() == "hello"


def test_no_on_the_terminal_refuses_it_with_exit_3(tmp_path: Path, project: Path) -> None:
    code, _ = _ask_on_a_terminal(tmp_path, project, b"n\n")
    assert code == 3
    assert not (project / "new.txt").exists()


def test_end_of_input_at_the_question_cancels_with_exit_130(tmp_path: Path, project: Path) -> None:
    code, _ = _ask_on_a_terminal(tmp_path, project, b"\x04")  # Ctrl-D
    assert code == 130
    assert not (project / "new.txt").exists()


def test_ctrl_c_cancels_the_turn_cleanly(tmp_path: Path, project: Path) -> None:
    model = write_script(tmp_path, [[{"say": f"word{n} "} for n in range(5000)]], chunk_delay=0.01)
    proc = subprocess.Popen(
        [*PUNIE, "ask", "--model", model, "--cwd", str(project), "--json", "talk"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=server_env(tmp_path),
        text=True,
    )
    assert proc.stdout is not None
    for line in proc.stdout:
        if json.loads(line)["type"] == "text":
            break
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    last = json.loads(out.splitlines()[-1])
    assert last["type"] == "end" and last["stop_reason"] == "cancelled" and last["exit_code"] == 130
    assert err.startswith("\npunie: cancelling") and "Traceback" not in err


def _init_in(home: Path, log_dir: Path) -> dict[str, object]:
    env = server_env(log_dir, {"HOME": str(home)})
    env.pop("XDG_CONFIG_HOME")
    result = subprocess.run(
        [*PUNIE, "init", "--model", "test"], env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr
    entry: dict[str, object] = json.loads((home / ".config" / "zed" / "settings.json").read_text())["agent_servers"][
        "Punie"
    ]
    return entry


@pytest.mark.anyio
async def test_the_config_init_writes_starts_a_working_server(tmp_path: Path, project: Path) -> None:
    entry = _init_in(tmp_path / "home", tmp_path)
    assert isinstance(entry["command"], str) and isinstance(entry["args"], list)
    assert os.path.isabs(entry["command"])
    client = RecordingClient()
    async with acp.spawn_agent_process(client, entry["command"], *entry["args"], env=server_env(tmp_path)) as (
        conn,
        _proc,
    ):
        sid = await start_session(conn, client, project)
        response = await conn.prompt(session_id=sid, prompt=text_prompt("what is in hello.py?"))
    assert response.stop_reason == "end_turn"
    assert client.message_text(sid).startswith("I read it: 2 lines.")
