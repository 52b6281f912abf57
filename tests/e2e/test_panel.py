"""The agent panel through the real `punie serve` over stdio, with the official ACP client.

Switching the model through the config option, thinking off, a slash command, usage numbers, a
real stdio MCP server whose tool asks permission (and dies with punie, SIGKILL included), and
compaction on a long scripted conversation.
"""

from __future__ import annotations

import asyncio
import json
import signal
from pathlib import Path

import pytest
from acp import schema

from tests.panel.mcp_servers import stdio_server, write_server
from tests.support.acp_client import RecordingClient, punie_server, text_prompt

pytestmark = pytest.mark.anyio


def _script(path: Path, responses: list[list[dict[str, object]]]) -> str:
    path.write_text(json.dumps({"responses": responses}))
    return f"script:{path}"


def _gone(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return True
    return "State:\tZ" in state


async def _until_gone(pid: int) -> None:
    async def loop() -> None:
        while not _gone(pid):
            await asyncio.sleep(0.05)

    await asyncio.wait_for(loop(), 30)


async def test_model_switch_thinking_command_usage_and_mcp_over_stdio(tmp_path: Path, project: Path) -> None:
    mcp_script, pid_file = write_server(tmp_path), tmp_path / "mcp.pid"
    other = _script(tmp_path / "other.json", [[{"call": "mcp_demo_echo", "args": {"text": "hi"}}], [{"say": "done"}]])
    client = RecordingClient()
    async with punie_server(client, "test", tmp_path, "--models", other) as (conn, proc):
        init = await conn.initialize(protocol_version=1, client_capabilities=client.capabilities())
        assert [m.id for m in init.auth_methods or []] == ["local"]
        await conn.authenticate(method_id="local")
        new = await conn.new_session(cwd=str(project), mcp_servers=[stdio_server(mcp_script, pid_file)])
        sid = new.session_id
        options = {o.id: o for o in new.config_options or []}
        assert options["model"].current_value == "default"
        switched = await conn.set_config_option(config_id="model", session_id=sid, value="model-1")
        assert switched is not None
        thinking = await conn.set_config_option(config_id="thinking", session_id=sid, value="off")
        response = await conn.prompt(session_id=sid, prompt=text_prompt("echo hi through the MCP server"))
        assert response.stop_reason == "end_turn"
        await conn.prompt(session_id=sid, prompt=text_prompt("/explain"))
        await client.wait_for(sid, lambda ups: any(u.session_update == "available_commands_update" for u in ups))
        mcp_pid = int(pid_file.read_text())
        helper_pid = int(Path(str(pid_file) + ".helper").read_text())
        assert not _gone(mcp_pid) and not _gone(helper_pid)
        proc.send_signal(signal.SIGKILL)  # punie dies the hard way: its MCP server must die too
        await proc.wait()
    await _until_gone(mcp_pid)
    await _until_gone(helper_pid)  # what the server started in a session of its own, too
    assert switched.config_options[0].current_value == "model-1"
    assert thinking is not None and {o.id: o.current_value for o in thinking.config_options} == {
        "model": "model-1",
        "thinking": "off",
        "mode": "ask",
    }
    assert [r.title for r in client.permission_requests] == ["MCP tool demo_echo"]
    finished = client.tool_events(sid)[-1]
    assert finished.status == "completed" and finished.raw_output == {"output": "echo: hi"}
    text = client.message_text(sid)
    assert "done" in text and "/explain needs a symbol" in text
    usage = [u for u in client.updates[sid] if isinstance(u, schema.UsageUpdate)]
    assert len(usage) == 2 and usage[0].used > 0 and usage[0].size == 32768


async def test_compaction_over_stdio(tmp_path: Path, project: Path) -> None:
    (project / "big.txt").write_text("line of text\n" * 400)
    read: list[dict[str, object]] = [{"call": "read_file", "args": {"path": "big.txt"}}]
    model = _script(
        tmp_path / "long.json",
        [read, [{"say": "a1"}], read, [{"say": "a2"}], [{"say": "SUMMARY so far"}], [{"say": "a3"}]],
    )
    client = RecordingClient()
    async with punie_server(client, model, tmp_path, "--context-tokens", "1024") as (conn, _):
        await conn.initialize(protocol_version=1, client_capabilities=client.capabilities())
        sid = (await conn.new_session(cwd=str(project), mcp_servers=[])).session_id
        for n in range(3):
            await conn.prompt(session_id=sid, prompt=text_prompt(f"question {n}"))
    text = client.message_text(sid)
    assert "Context compacted" in text and "1 earlier turn summarized" in text and text.endswith("a3")
    usage = [u for u in client.updates[sid] if isinstance(u, schema.UsageUpdate)]
    assert [u.size for u in usage] == [1024, 1024, 1024]
    assert usage[2].used < usage[1].used  # compaction made room
