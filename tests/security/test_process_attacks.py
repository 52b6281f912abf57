"""Processes that try to outlive `punie serve`: escapes from the process group, and server deaths.

Each command below starts the escapes an attacker (or a careless build script) would use: a
plain background child, `setsid`, a double fork into a new session, a child that ignores
SIGTERM, a classic Python daemon. Every process writes its pid to `pids`. Then the real server
is stopped in each way an editor or a user can stop it, and every pid must be gone: before the
server's exit is seen for the ways it can clean up after (SIGTERM, SIGINT, stdin EOF), and soon
after for the one it cannot (SIGKILL, where the supervisor sees its control pipe close).
"""

from __future__ import annotations

import asyncio
import signal
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.e2e.scripts import write_script
from tests.security.hostile import calls, output_of
from tests.support.acp_client import PUNIE, RecordingClient, punie_server, server_env, start_session, text_prompt
from tests.support.terminals import alive, pids_in

pytestmark = pytest.mark.anyio

DAEMON = """\
import os, time
if os.fork():
    os._exit(0)
os.setsid()
if os.fork():
    os._exit(0)
with open("pids", "a") as f:
    f.write(f"{os.getpid()}\\n")
time.sleep(300)
"""

# (command, how many pids it writes once everything is running)
ESCAPES = (
    "echo $PPID >> pids; echo $$ >> pids; "  # the supervisor (today: the server) and the shell
    "sleep 300 & echo $! >> pids; "  # a plain background child
    "setsid sleep 300 & echo $! >> pids; "  # a new session: out of the process group
    "(setsid sh -c 'echo $$ >> pids; exec sleep 300' &); "  # new session and orphaned (double fork)
    "setsid sh -c 'trap \"\" TERM; echo $$ >> pids; exec sleep 300' & "  # out of the group, ignores SIGTERM
    f"{sys.executable} daemon.py; "  # fork, setsid, fork: a daemon
    "wait",
    7,
)


async def until(condition: Callable[[], bool], guard: float = 60.0) -> None:
    async def loop() -> None:
        while not condition():
            await asyncio.sleep(0.05)

    await asyncio.wait_for(loop(), guard)


def survivors(pids: list[int]) -> list[int]:
    return [pid for pid in pids if alive(pid)]


async def start_escapes(tmp_path: Path, project: Path) -> tuple[RecordingClient, str]:
    (project / "daemon.py").write_text(DAEMON)
    model = write_script(tmp_path, calls(("run_command", {"command": ESCAPES[0], "timeout": 3000})))
    return RecordingClient("allow_once"), model


@pytest.mark.parametrize("how", ["SIGTERM", "SIGINT", "stdin EOF"])
async def test_stopping_the_server_kills_every_process_it_started_before_it_exits(
    tmp_path: Path, project: Path, how: str
) -> None:
    client, model = await start_escapes(tmp_path, project)
    pids: list[int] = []
    async with punie_server(client, model, tmp_path) as (conn, server):
        sid = await start_session(conn, client, project)
        prompt = asyncio.ensure_future(conn.prompt(session_id=sid, prompt=text_prompt("go")))
        await until(lambda: len(pids_in(project / "pids")) == ESCAPES[1])
        pids = pids_in(project / "pids")
        assert len(survivors(pids)) == ESCAPES[1]  # all running before the server is stopped
        if how == "stdin EOF":
            assert server.stdin is not None
            server.stdin.close()
        else:
            server.send_signal(getattr(signal, how))
        code = await asyncio.wait_for(server.wait(), 60)
        prompt.cancel()
    # Already gone when the server's exit is seen: the server waited for them.
    assert survivors(pids) == [], f"alive after {how}: {survivors(pids)}"
    if how != "stdin EOF":
        assert code == 128 + getattr(signal, how)


async def test_sigkill_of_the_server_still_kills_every_process_it_started(tmp_path: Path, project: Path) -> None:
    client, model = await start_escapes(tmp_path, project)
    pids: list[int] = []
    async with punie_server(client, model, tmp_path) as (conn, server):
        sid = await start_session(conn, client, project)
        prompt = asyncio.ensure_future(conn.prompt(session_id=sid, prompt=text_prompt("go")))
        await until(lambda: len(pids_in(project / "pids")) == ESCAPES[1])
        pids = pids_in(project / "pids")
        server.kill()
        await asyncio.wait_for(server.wait(), 60)
        prompt.cancel()
    try:
        await until(lambda: not survivors(pids))
    except TimeoutError:
        pytest.fail(f"alive long after the server was SIGKILLed: {survivors(pids)}")


async def test_escapes_are_killed_when_the_command_ends_normally(tmp_path: Path, project: Path) -> None:
    """A command that returns at once must not leave its daemons behind; the turn goes on."""
    (project / "daemon.py").write_text(DAEMON)
    command = ESCAPES[0].replace("; wait", f"; while [ $(wc -l < pids) -lt {ESCAPES[1]} ]; do sleep 0.05; done")
    client = RecordingClient("allow_once")
    model = write_script(tmp_path, calls(("run_command", {"command": command})))
    async with punie_server(client, model, tmp_path) as (conn, _server):
        sid = await start_session(conn, client, project)
        response = await asyncio.wait_for(conn.prompt(session_id=sid, prompt=text_prompt("go")), 120)
        pids = pids_in(project / "pids")
        assert response.stop_reason == "end_turn"
        assert len(pids) == ESCAPES[1]
        # The tool call finished only once its supervisor had killed what was left.
        assert survivors(pids) == [], f"left running after the command ended: {survivors(pids)}"


async def test_a_command_that_kills_its_supervisor_leaves_nothing_behind(tmp_path: Path, project: Path) -> None:
    """SIGKILL of the supervisor from inside: the server still kills the command's process group."""
    command = "sleep 300 & echo $! >> pids; echo $$ >> pids; kill -9 $PPID; wait"
    client = RecordingClient("allow_once")
    model = write_script(tmp_path, calls(("run_command", {"command": command})))
    async with punie_server(client, model, tmp_path) as (conn, _server):
        sid = await start_session(conn, client, project)
        response = await asyncio.wait_for(conn.prompt(session_id=sid, prompt=text_prompt("go")), 120)
        assert response.stop_reason == "end_turn"
        pids = pids_in(project / "pids")
        assert len(pids) == 2
        await until(lambda: not survivors(pids))
        final = client.tool_events(sid)[-1]
        assert final.status == "failed" and "SIGKILL" in output_of(final)


async def test_a_command_holding_the_control_pipe_still_dies_with_the_server(tmp_path: Path, project: Path) -> None:
    """It reopens its supervisor's control pipe through /proc to keep it from ever seeing EOF."""
    command = (
        "exec 3>/proc/$PPID/fd/0 4>/proc/$PPID/fd/0 || echo could-not-reopen; "
        "setsid sleep 300 & echo $! >> pids; echo $$ >> pids; wait"
    )
    client = RecordingClient("allow_once")
    model = write_script(tmp_path, calls(("run_command", {"command": command, "timeout": 3000})))
    async with punie_server(client, model, tmp_path) as (conn, server):
        sid = await start_session(conn, client, project)
        prompt = asyncio.ensure_future(conn.prompt(session_id=sid, prompt=text_prompt("go")))
        await until(lambda: len(pids_in(project / "pids")) == 2)
        pids = pids_in(project / "pids")
        server.kill()
        await asyncio.wait_for(server.wait(), 60)
        prompt.cancel()
    try:
        await until(lambda: not survivors(pids))
    except TimeoutError:
        pytest.fail(f"alive long after the server was SIGKILLed: {survivors(pids)}")


async def test_a_flood_of_background_children_is_killed_on_timeout(tmp_path: Path, project: Path) -> None:
    command = "for i in $(seq 200); do sleep 300 & echo $! >> pids; done; setsid sh -c 'sleep 300 & wait' & wait"
    client = RecordingClient("allow_once")
    model = write_script(tmp_path, calls(("run_command", {"command": command, "timeout": 3})))
    async with punie_server(client, model, tmp_path) as (conn, _server):
        sid = await start_session(conn, client, project)
        response = await asyncio.wait_for(conn.prompt(session_id=sid, prompt=text_prompt("go")), 120)
        assert response.stop_reason == "end_turn"
        pids = pids_in(project / "pids")
        assert len(pids) == 200
        assert survivors(pids) == []  # the call ended only once its supervisor had killed them all
        assert "timed out after 3 s" in output_of(client.tool_events(sid)[-1])


async def test_ctrl_c_on_punie_ask_kills_every_process_it_started_before_it_exits(
    tmp_path: Path, project: Path
) -> None:
    (project / "daemon.py").write_text(DAEMON)
    model = write_script(tmp_path, calls(("run_command", {"command": ESCAPES[0], "timeout": 3000})))
    ask = await asyncio.create_subprocess_exec(
        *PUNIE,
        "ask",
        "--yes",
        "--model",
        model,
        "--cwd",
        str(project),
        "go",
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
        env=server_env(tmp_path),
    )
    try:
        await until(lambda: len(pids_in(project / "pids")) == ESCAPES[1])
        pids = pids_in(project / "pids")
        ask.send_signal(signal.SIGINT)
        code = await asyncio.wait_for(ask.wait(), 60)
    finally:
        if ask.returncode is None:
            ask.kill()
            await ask.wait()
    assert survivors(pids) == [], f"alive after Ctrl-C: {survivors(pids)}"
    assert code == 130
