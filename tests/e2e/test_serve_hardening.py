"""`punie serve` under strain: many sessions never closed, a client gone mid-turn, a command that hangs."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import cast

import acp
import pytest

from tests.e2e.scripts import write_script
from tests.security.hostile import output_of
from tests.support.acp_client import PUNIE, RecordingClient, punie_server, server_env, start_session, text_prompt

pytestmark = pytest.mark.anyio

LONG_REPLY = " ".join(f"word{i}" for i in range(3000))


async def test_sessions_never_closed_are_bounded(tmp_path: Path, project: Path) -> None:
    model = write_script(tmp_path, [[{"say": LONG_REPLY}]], chunk_delay=0.005)
    client = RecordingClient()
    env = {"PUNIE_MAX_OPEN_SESSIONS": "3"}
    async with punie_server(client, model, tmp_path, env=env) as (conn, proc):
        first = await start_session(conn, client, project)
        opened = [first] + [(await conn.new_session(cwd=str(project), mcp_servers=[])).session_id for _ in range(9)]
        listed = [s.session_id for s in (await conn.list_sessions()).sessions]
        assert sorted(listed) == sorted(opened)  # all saved; the oldest idle ones made room (closed):
        with pytest.raises(acp.RequestError) as info:
            await conn.prompt(session_id=first, prompt=text_prompt("hi"))
        assert info.value.code == -32002 and "closed to make room" in str(info.value)
        # All three busy: the next session/new is refused with a reason, nothing is closed.
        busy = opened[-3:]
        turns = [asyncio.create_task(conn.prompt(session_id=s, prompt=text_prompt("talk"))) for s in busy]
        for sid in busy:
            await client.wait_for(sid, lambda ups: len(ups) >= 2)
        with pytest.raises(acp.RequestError) as refused:
            await conn.new_session(cwd=str(project), mcp_servers=[])
        assert refused.value.code == -32600 and "running a prompt" in str(refused.value)
        for sid in busy:
            await conn.cancel(session_id=sid)
        assert [(await asyncio.wait_for(t, 30)).stop_reason for t in turns] == ["cancelled"] * 3
        assert (await conn.new_session(cwd=str(project), mcp_servers=[])).session_id
        assert proc.returncode is None


async def test_a_command_that_hangs_times_out_and_the_turn_goes_on(tmp_path: Path, project: Path) -> None:
    hang = {"call": "run_command", "args": {"command": "sleep 300"}}
    model = write_script(tmp_path, [[hang], [{"say": "it timed out"}], [{"say": "still here"}]])
    client = RecordingClient(permission="allow_once")
    async with punie_server(client, model, tmp_path, "--command-timeout", "1") as (conn, proc):
        sid = await start_session(conn, client, project)
        resp = await asyncio.wait_for(conn.prompt(session_id=sid, prompt=text_prompt("run it")), 120)
        assert resp.stop_reason == "end_turn"
        final = client.tool_events(sid)[-1]
        assert final.status == "failed" and "timed out after 1 s" in output_of(final)
        assert client.message_text(sid) == "it timed out"
        again = await conn.prompt(session_id=sid, prompt=text_prompt("hello?"))
        assert again.stop_reason == "end_turn"
        assert proc.returncode is None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


async def test_a_client_gone_mid_turn_loses_nothing_and_the_server_exits_cleanly(tmp_path: Path, project: Path) -> None:
    pid_file = project / "child.pid"
    write = {"call": "write_file", "args": {"path": "done.txt", "content": "written before the client left\n"}}
    hang = {"call": "run_command", "args": {"command": f"echo $$ > {pid_file.name}; exec sleep 300"}}
    model = write_script(tmp_path, [[write], [hang], [{"say": "never"}]])
    client = RecordingClient(permission="allow_once")
    proc = await asyncio.create_subprocess_exec(
        *PUNIE,
        "serve",
        "--model",
        model,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=server_env(tmp_path),
    )
    assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None
    conn = acp.connect_to_agent(cast(acp.Client, client), proc.stdin, proc.stdout)  # a partial client double
    sid = await start_session(conn, client, project)
    turn = asyncio.create_task(conn.prompt(session_id=sid, prompt=text_prompt("go")))
    for _ in range(1200):  # the command has started and written its pid (generous failure timeout)
        if pid_file.exists() and pid_file.read_text().strip():
            break
        await asyncio.sleep(0.05)
    child = int(pid_file.read_text().strip() or 0)
    assert child and _alive(child)
    # The editor disappears: its end of the pipes closes.
    turn.cancel()
    await conn.close()
    proc.stdin.close()
    stderr = await asyncio.wait_for(proc.stderr.read(), 60)
    code = await asyncio.wait_for(proc.wait(), 60)
    assert code == 0, stderr
    assert b"Traceback" not in stderr
    assert (project / "done.txt").read_text() == "written before the client left\n"
    for _ in range(600):  # the command and its process group are killed with the turn
        if not _alive(child):
            break
        await asyncio.sleep(0.05)
    assert not _alive(child), "the command outlived the server"
    assert "client closed the connection" in (tmp_path / "punie.log").read_text()
