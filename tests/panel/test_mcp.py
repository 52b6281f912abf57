"""The editor's MCP servers: a real stdio server (the `mcp` package) whose tools the scripted model calls.

Also a hostile one: huge output, a call that never answers, a server that dies, a tool named like
one of punie's, a server that never starts.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import anyio
import pytest
from acp import schema

from punie_acp.config import Settings
from punie_acp.core.mcp import MAX_DESCRIPTION_CHARS, MAX_RESULT_CHARS, MAX_TOOLS_PER_SERVER
from tests.acp.loopback import Loopback, loopback, scripted
from tests.panel.doubles import ForgetRecordingBackend, RecordingModel
from tests.panel.mcp_servers import stdio_server, write_flooding_server, write_server
from tests.support.acp_client import RecordingClient, text_prompt

pytestmark = pytest.mark.anyio


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}").exists() and "zombie" not in _state(pid)


def _state(pid: int) -> str:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return "gone"
    return next((line for line in status.splitlines() if line.startswith("State:")), "").lower()


async def _wait_gone(pid: int) -> None:
    with anyio.fail_after(30):
        while _alive(pid):
            await anyio.sleep(0.05)


def _helper_pid(pid_file: Path) -> int:
    return int(Path(str(pid_file) + ".helper").read_text())


@pytest.fixture
def server_files(tmp_path: Path) -> Iterator[tuple[Path, Path]]:
    yield write_server(tmp_path), tmp_path / "mcp.pid"


McpServers = list[schema.HttpMcpServer | schema.SseMcpServer | schema.AcpMcpServer | schema.McpServerStdio]


async def _session(lb: Loopback, project: Path, servers: McpServers) -> str:
    await lb.conn.initialize(protocol_version=1, client_capabilities=lb.client.capabilities())
    response = await lb.conn.new_session(cwd=str(project), mcp_servers=servers)
    return str(response.session_id)


async def test_mcp_tool_call_asks_permission_and_runs(project: Path, server_files: tuple[Path, Path]) -> None:
    script, pid_file = server_files
    backend = scripted([[{"call": "mcp_demo_echo", "args": {"text": "hi"}}], [{"say": "done"}]])
    async with loopback(backend) as lb:
        sid = await _session(lb, project, [stdio_server(script, pid_file)])
        response = await lb.conn.prompt(session_id=sid, prompt=text_prompt("echo hi"))
        events = lb.client.tool_events(sid)
        pid, helper = int(pid_file.read_text()), _helper_pid(pid_file)
        assert _alive(pid) and _alive(helper)
        await lb.conn.close_session(session_id=sid)
        await _wait_gone(pid)  # the session's servers stop with it
        await _wait_gone(helper)  # and what they started, even in a session of its own
    assert response.stop_reason == "end_turn"
    assert [r.title for r in lb.client.permission_requests] == ["MCP tool demo_echo"]
    start = events[0]
    assert start.kind == "execute" and start.title == "MCP tool demo_echo" and start.raw_input == {"text": "hi"}
    assert [e.status for e in events[1:]] == ["in_progress", "completed"]
    assert events[-1].raw_output == {"output": "echo: hi"}


async def test_the_server_stays_up_between_turns(project: Path, server_files: tuple[Path, Path]) -> None:
    script, pid_file = server_files
    call = [{"call": "mcp_demo_echo", "args": {"text": "again"}}]
    backend = scripted(
        [call, [{"say": "one"}], [{"call": "mcp_demo_echo", "args": {"text": "twice"}}], [{"say": "two"}]]
    )
    async with loopback(backend) as lb:
        sid = await _session(lb, project, [stdio_server(script, pid_file)])
        await lb.conn.prompt(session_id=sid, prompt=text_prompt("1"))
        first = pid_file.read_text()
        await lb.conn.prompt(session_id=sid, prompt=text_prompt("2"))
        assert pid_file.read_text() == first
    await _wait_gone(int(first))  # and stops when the server does


async def test_read_only_mode_refuses_mcp_tools_without_asking(project: Path, server_files: tuple[Path, Path]) -> None:
    script, pid_file = server_files
    backend = scripted([[{"call": "mcp_demo_echo", "args": {"text": "hi"}}], [{"say": "ok"}]])
    async with loopback(backend, Settings(log_file="", mode="read-only")) as lb:
        sid = await _session(lb, project, [stdio_server(script, pid_file)])
        await lb.conn.prompt(session_id=sid, prompt=text_prompt("echo"))
    assert lb.client.permission_requests == []
    final = lb.client.tool_events(sid)[-1]
    assert final.status == "failed" and "not allowed in Read-only mode" in final.raw_output["output"]


async def test_rejected_permission_means_the_tool_does_not_run(project: Path, server_files: tuple[Path, Path]) -> None:
    script, pid_file = server_files
    backend = scripted([[{"call": "mcp_demo_echo", "args": {"text": "hi"}}], [{"say": "ok"}]])
    async with loopback(backend, client=RecordingClient(permission="reject_once")) as lb:
        sid = await _session(lb, project, [stdio_server(script, pid_file)])
        await lb.conn.prompt(session_id=sid, prompt=text_prompt("echo"))
    final = lb.client.tool_events(sid)[-1]
    assert final.status == "failed" and "echo: hi" not in str(final.raw_output)


async def test_a_colliding_tool_name_cannot_shadow_punies_own(project: Path, server_files: tuple[Path, Path]) -> None:
    script, pid_file = server_files
    backend = scripted(
        [
            [{"call": "read_file", "args": {"path": "hello.py"}}],
            [{"call": "mcp_demo_read_file", "args": {"path": "hello.py"}}],
            [{"say": "ok"}],
        ]
    )
    async with loopback(backend) as lb:
        sid = await _session(lb, project, [stdio_server(script, pid_file)])
        await lb.conn.prompt(session_id=sid, prompt=text_prompt("read"))
    finished = [e for e in lb.client.tool_events(sid) if e.status == "completed"]
    assert "print('hello')" in finished[0].raw_output["output"]  # punie's read_file
    assert finished[1].raw_output == {"output": "mcp read_file was called with hello.py"}


async def test_huge_output_is_cut(project: Path, server_files: tuple[Path, Path]) -> None:
    script, pid_file = server_files
    backend = scripted([[{"call": "mcp_demo_huge", "args": {}}], [{"say": "ok"}]])
    async with loopback(backend) as lb:
        sid = await _session(lb, project, [stdio_server(script, pid_file)])
        await lb.conn.prompt(session_id=sid, prompt=text_prompt("huge"))
    output = lb.client.tool_events(sid)[-1].raw_output["output"]
    assert len(output) < MAX_RESULT_CHARS + 200 and "[cut: the MCP tool returned 5,000,000 characters]" in output


async def test_a_call_that_never_answers_times_out_and_the_turn_goes_on(
    project: Path, server_files: tuple[Path, Path]
) -> None:
    script, pid_file = server_files
    backend = scripted([[{"call": "mcp_demo_hang", "args": {}}], [{"say": "went on"}]])
    async with loopback(backend, Settings(log_file="", command_timeout=2.0)) as lb:
        sid = await _session(lb, project, [stdio_server(script, pid_file)])
        response = await lb.conn.prompt(session_id=sid, prompt=text_prompt("hang"))
        pid, helper = int(pid_file.read_text()), _helper_pid(pid_file)
    # A server stuck in a call ignores the closed stdin: it is killed, with what it started.
    await _wait_gone(pid)
    await _wait_gone(helper)
    final = lb.client.tool_events(sid)[-1]
    assert final.status == "failed" and "did not answer within 2 s" in final.raw_output["output"]
    assert response.stop_reason == "end_turn" and lb.client.message_text(sid) == "went on"


async def test_a_server_that_dies_fails_the_call_not_the_turn(project: Path, server_files: tuple[Path, Path]) -> None:
    script, pid_file = server_files
    backend = scripted([[{"call": "mcp_demo_die", "args": {}}], [{"say": "still here"}]])
    async with loopback(backend, Settings(log_file="", command_timeout=10.0)) as lb:
        sid = await _session(lb, project, [stdio_server(script, pid_file)])
        response = await lb.conn.prompt(session_id=sid, prompt=text_prompt("die"))
    assert lb.client.tool_events(sid)[-1].status == "failed"
    assert response.stop_reason == "end_turn" and lb.client.message_text(sid) == "still here"


async def test_a_server_that_cannot_start_offers_no_tools_and_prompts_still_work(project: Path) -> None:
    broken = schema.McpServerStdio(name="broken", command="/nonexistent/mcp-server", args=[], env=[])
    crashing = schema.McpServerStdio(name="crash", command=sys.executable, args=["-c", "raise SystemExit(1)"], env=[])
    async with loopback() as lb:
        sid = await _session(lb, project, [broken, crashing])
        response = await lb.conn.prompt(session_id=sid, prompt=text_prompt("what is in hello.py?"))
    assert response.stop_reason == "end_turn"
    assert lb.client.message_text(sid).startswith("I read it")


async def test_a_flooding_server_offers_a_bounded_set_of_plain_tools(project: Path, tmp_path: Path) -> None:
    flood = schema.McpServerStdio(
        name="flood", command=sys.executable, args=[str(write_flooding_server(tmp_path))], env=[]
    )
    recorder = RecordingModel()
    async with loopback(ForgetRecordingBackend(recorder.model(), "recording")) as lb:
        sid = await _session(lb, project, [flood])
        await lb.conn.prompt(session_id=sid, prompt=text_prompt("hi"))
    offered = {name: d for name, d in recorder.seen[0].tools.items() if name.startswith("mcp_")}
    assert len(offered) == MAX_TOOLS_PER_SERVER
    assert all(name.startswith("mcp_flood_t") for name in offered)
    assert all(len(d) <= MAX_DESCRIPTION_CHARS for d in offered.values())
    assert "read_file" in recorder.seen[0].tools  # punie's own tools are all still there
