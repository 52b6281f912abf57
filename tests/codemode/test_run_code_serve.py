"""`run_code` end to end through the real `punie serve` with the scripted model."""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.scripts import write_script
from tests.support.acp_client import RecordingClient, punie_server, start_session, text_prompt

pytestmark = pytest.mark.anyio

CODE_MODE = ("--tool-style", "code")

THREE_TOOLS = """\
import asyncio
hits = await grep('TODO')
files = await list_files()
paths = sorted({hit['path'] for hit in hits})
texts = await asyncio.gather(*[read_file(path) for path in paths])
{'todo_files': paths, 'listed': len(files), 'todos': sum(t.count('TODO') for t in texts)}
"""

REJECTED_EDIT = """\
try:
    await edit_file('a.py', 'TODO', 'DONE')
    outcome = 'edited'
except PermissionError as exc:
    outcome = 'refused: ' + str(exc)
outcome + ' | ' + (await read_file('a.py'))
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    root.mkdir()
    (root / "a.py").write_text("x = 1  # TODO\n")
    (root / "b.py").write_text("y = 2  # TODO\nz = 3  # TODO\n")
    (root / "c.txt").write_text("nothing here\n")
    return root


def run_code_script(tmp_path: Path, code: str) -> str:
    return write_script(tmp_path, [[{"call": "run_code", "args": {"code": code}}], [{"say": "done"}]])


def calls_by_id(client: RecordingClient, session_id: str) -> dict[str, list[Any]]:
    found: dict[str, list[Any]] = {}
    for event in client.tool_events(session_id):
        found.setdefault(event.tool_call_id, []).append(event)
    return found


def final(events: list[Any]) -> Any:
    return next(e for e in reversed(events) if e.session_update == "tool_call_update" and e.status)


async def test_a_program_calls_three_tools_in_one_model_turn(tmp_path: Path, project: Path) -> None:
    client = RecordingClient()
    async with punie_server(client, run_code_script(tmp_path, THREE_TOOLS), tmp_path, *CODE_MODE) as (conn, _):
        sid = await start_session(conn, client, project)
        response = await conn.prompt(session_id=sid, prompt=text_prompt("count the TODOs"))
    assert response.stop_reason == "end_turn"
    calls = calls_by_id(client, sid)
    outer = [call_id for call_id in calls if "." not in call_id]
    assert len(outer) == 1
    inner = sorted(
        (call_id for call_id in calls if call_id.startswith(outer[0] + ".")), key=lambda c: int(c.split(".")[-1])
    )
    # grep, list_files, then two reads in parallel: each its own tool call, linked by id and title.
    assert [calls[c][0].title.split(" › ")[0] for c in inner] == ["run_code"] * 4
    assert sorted(calls[c][0].raw_input.get("path", "") for c in inner[2:]) == ["a.py", "b.py"]
    assert all(final(calls[c]).status == "completed" for c in inner)
    result = final(calls[outer[0]])
    assert result.status == "completed"
    output = result.raw_output["output"]
    assert '"todo_files": ["a.py", "b.py"]' in output and '"todos": 3' in output and '"listed": 3' in output
    assert "[4 tool calls made]" in output
    # The run_code card lists the calls it made.
    shown = " ".join(str(e.content) for e in calls[outer[0]])
    assert all(c in shown for c in inner)


async def test_an_inner_edit_the_user_rejects_fails_only_that_call(tmp_path: Path, project: Path) -> None:
    client = RecordingClient(permission="reject_once")
    async with punie_server(client, run_code_script(tmp_path, REJECTED_EDIT), tmp_path, *CODE_MODE) as (conn, _):
        sid = await start_session(conn, client, project)
        response = await conn.prompt(session_id=sid, prompt=text_prompt("edit"))
        still = await conn.prompt(session_id=sid, prompt=text_prompt("again"))
    assert response.stop_reason == "end_turn" and still.stop_reason == "end_turn"
    assert (project / "a.py").read_text() == "x = 1  # TODO\n"
    calls = calls_by_id(client, sid)
    outer = next(c for c in calls if "." not in c)
    # The prompt was asked on the inner call's own card.
    assert [r.tool_call_id for r in client.permission_requests] == [f"{outer}.1"], [calls, client.permission_requests]
    assert final(calls[f"{outer}.1"]).status == "failed"
    assert final(calls[f"{outer}.2"]).status == "completed"
    output = final(calls[outer]).raw_output["output"]
    assert "refused: edit_file:" in output and "rejected" in output and "x = 1  # TODO" in output


async def test_a_cancelled_inner_prompt_ends_the_turn(tmp_path: Path, project: Path) -> None:
    client = RecordingClient(permission="cancelled")
    async with punie_server(client, run_code_script(tmp_path, REJECTED_EDIT), tmp_path, *CODE_MODE) as (conn, _):
        sid = await start_session(conn, client, project)
        response = await conn.prompt(session_id=sid, prompt=text_prompt("edit"))
    assert response.stop_reason == "cancelled"
    assert (project / "a.py").read_text() == "x = 1  # TODO\n"
    calls = calls_by_id(client, sid)
    outer = next(c for c in calls if "." not in c)
    assert final(calls[outer]).status == "failed" and final(calls[f"{outer}.1"]).status == "failed"
    assert f"{outer}.2" not in calls  # the program stopped at the cancelled prompt


def monty_workers(server_pid: int) -> list[int]:
    """The server's `monty` worker subprocesses."""
    workers = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        parent = int(stat.rsplit(")", 1)[1].split()[1])
        if parent == server_pid and b"monty" in cmdline:
            workers.append(int(entry.name))
    return workers


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


async def until(condition: Callable[[], bool], guard: float = 60.0) -> None:
    async def loop() -> None:
        while not condition():
            await asyncio.sleep(0.05)

    await asyncio.wait_for(loop(), guard)


async def test_cancel_stops_a_running_program_and_its_worker(tmp_path: Path, project: Path) -> None:
    client = RecordingClient()
    script = run_code_script(tmp_path, "while True:\n    pass")
    async with punie_server(client, script, tmp_path, *CODE_MODE, "--code-time-limit", "600") as (conn, proc):
        sid = await start_session(conn, client, project)
        turn = asyncio.create_task(conn.prompt(session_id=sid, prompt=text_prompt("spin")))
        await until(lambda: bool(monty_workers(proc.pid)))
        workers = monty_workers(proc.pid)
        try:
            await conn.cancel(session_id=sid)
            response = await asyncio.wait_for(turn, 60)
            assert response.stop_reason == "cancelled"
            await until(lambda: not any(alive(pid) for pid in workers))
        finally:  # never leave a spinning worker behind on a failure
            for pid in workers:
                if alive(pid):
                    os.kill(pid, signal.SIGKILL)
        calls = calls_by_id(client, sid)
        assert all(final(events).status == "failed" for events in calls.values())


async def test_workers_die_with_a_killed_server(tmp_path: Path, project: Path) -> None:
    """A worker busy in an endless program dies with a SIGKILLed server, long before its time
    limit (without the parent-death signal of `workers.py` it spun on for the whole limit)."""
    client = RecordingClient()
    script = run_code_script(tmp_path, "while True:\n    pass")
    async with punie_server(client, script, tmp_path, *CODE_MODE, "--code-time-limit", "3600") as (conn, proc):
        sid = await start_session(conn, client, project)
        turn = asyncio.create_task(conn.prompt(session_id=sid, prompt=text_prompt("spin")))
        await until(lambda: bool(monty_workers(proc.pid)))
        workers = monty_workers(proc.pid)
        try:
            os.kill(proc.pid, signal.SIGKILL)
            await until(lambda: not any(alive(pid) for pid in workers))
        finally:  # never leave a spinning worker behind on a failure
            for pid in workers:
                if alive(pid):
                    os.kill(pid, signal.SIGKILL)
        turn.cancel()


async def test_the_mode_governs_inner_calls(tmp_path: Path, project: Path) -> None:
    client = RecordingClient(permission="allow_once")
    script = run_code_script(tmp_path, REJECTED_EDIT)
    async with punie_server(client, script, tmp_path, *CODE_MODE, "--mode", "read-only") as (conn, _):
        sid = await start_session(conn, client, project)
        response = await conn.prompt(session_id=sid, prompt=text_prompt("edit"))
    assert response.stop_reason == "end_turn"
    assert client.permission_requests == []  # read-only refuses without asking
    assert (project / "a.py").read_text() == "x = 1  # TODO\n"
    calls = calls_by_id(client, sid)
    outer = next(c for c in calls if "." not in c)
    assert final(calls[f"{outer}.1"]).status == "failed"
    assert "not allowed in Read-only mode" in final(calls[outer]).raw_output["output"]
