"""`punie serve` as a subprocess, driven by the official ACP Python client."""

from __future__ import annotations

import asyncio
from pathlib import Path

import acp
import pytest

from tests.e2e.scripts import write_script
from tests.support.acp_client import RecordingClient, punie_server, start_session, text_prompt

pytestmark = pytest.mark.anyio


async def test_handshake_advertises_only_what_works(tmp_path: Path) -> None:
    client = RecordingClient()
    async with punie_server(client, "test", tmp_path) as (conn, _):
        resp = await conn.initialize(protocol_version=1)
    assert resp.protocol_version == 1
    assert resp.agent_info is not None and resp.agent_info.name == "punie"
    caps = resp.agent_capabilities
    assert caps is not None
    assert caps.load_session is False
    assert caps.prompt_capabilities is not None and caps.prompt_capabilities.image is False


async def test_prompt_streams_thought_and_message_chunks(tmp_path: Path, project: Path) -> None:
    client = RecordingClient()
    async with punie_server(client, "test", tmp_path) as (conn, _):
        sid = await start_session(conn, client, project)
        resp = await conn.prompt(session_id=sid, prompt=text_prompt("say something nice"))
    assert resp.stop_reason == "end_turn"
    kinds = client.kinds(sid)
    assert kinds.count("agent_message_chunk") > 3, kinds  # streamed, not one blob
    assert "agent_thought_chunk" in kinds
    assert kinds.index("agent_thought_chunk") < kinds.index("agent_message_chunk")
    assert client.message_text(sid) == "This is punie's test model. You said: say something nice"


async def test_tool_call_lifecycle(tmp_path: Path, project: Path) -> None:
    client = RecordingClient()
    async with punie_server(client, "test", tmp_path) as (conn, _):
        sid = await start_session(conn, client, project)
        resp = await conn.prompt(session_id=sid, prompt=text_prompt("what is in hello.py?"))
    assert resp.stop_reason == "end_turn"
    events = client.tool_events(sid)
    start = events[0]
    assert start.session_update == "tool_call"
    assert start.kind == "read" and start.status == "pending"
    assert start.raw_input == {"path": "hello.py"}
    assert start.locations and start.locations[0].path == str(project.resolve() / "hello.py")
    statuses = [e.status for e in events[1:] if e.status]
    assert statuses == ["in_progress", "completed"]
    assert all(e.tool_call_id == start.tool_call_id for e in events)
    done = events[-1]
    assert "answer = 42" in done.raw_output["output"]
    assert done.content and "print('hello')" in done.content[0].content.text
    # The answer comes after the tool and uses its result.
    assert client.message_text(sid).startswith("I read it: 2 lines.")


async def test_path_outside_root_is_a_failed_tool_call(tmp_path: Path, project: Path) -> None:
    (project.parent / "secret.txt").write_text("do not read")
    client = RecordingClient()
    async with punie_server(client, "test", tmp_path) as (conn, _):
        sid = await start_session(conn, client, project)
        resp = await conn.prompt(session_id=sid, prompt=text_prompt("show me ../secret.txt"))
        assert resp.stop_reason == "end_turn"
        final = client.tool_events(sid)[-1]
        assert final.status == "failed"
        assert "outside the project root" in final.raw_output["output"]
        assert "do not read" not in client.message_text(sid)
        # Still serving.
        again = await conn.prompt(session_id=sid, prompt=text_prompt("hello"))
        assert again.stop_reason == "end_turn"


@pytest.mark.parametrize("cwd", ["relative/dir", "/definitely/not/here", "FILE"])
async def test_invalid_cwd_is_a_clear_error(tmp_path: Path, project: Path, cwd: str) -> None:
    if cwd == "FILE":
        cwd = str(project / "hello.py")
    client = RecordingClient()
    async with punie_server(client, "test", tmp_path) as (conn, _):
        await conn.initialize(protocol_version=1)
        with pytest.raises(acp.RequestError) as info:
            await conn.new_session(cwd=cwd, mcp_servers=[])
        assert info.value.code == -32602
        assert cwd in str(info.value)
        ok = await conn.new_session(cwd=str(project), mcp_servers=[])
        assert ok.session_id


async def test_cancel_stops_a_streaming_reply(tmp_path: Path, project: Path) -> None:
    long_reply = " ".join(f"word{i}" for i in range(2000))
    model = write_script(tmp_path, [[{"say": long_reply}], [{"say": "second turn"}]], chunk_delay=0.005)
    client = RecordingClient()
    async with punie_server(client, model, tmp_path) as (conn, _):
        sid = await start_session(conn, client, project)
        turn = asyncio.create_task(conn.prompt(session_id=sid, prompt=text_prompt("talk")))
        await client.wait_for(sid, lambda ups: len(ups) >= 5)
        await conn.cancel(session_id=sid)
        resp = await asyncio.wait_for(turn, 30)
        assert resp.stop_reason == "cancelled"
        received = client.message_text(sid)
        assert 0 < len(received) < len(long_reply)
        # The session is not wedged: the next prompt runs.
        client.updates[sid].clear()
        again = await conn.prompt(session_id=sid, prompt=text_prompt("again"))
        assert again.stop_reason == "end_turn"
        assert client.message_text(sid) == "second turn"


async def test_two_sessions_stream_independently(tmp_path: Path, project: Path) -> None:
    other = tmp_path / "other"
    other.mkdir()
    client = RecordingClient()
    async with punie_server(client, "test", tmp_path) as (conn, _):
        a = await start_session(conn, client, project)
        b = (await conn.new_session(cwd=str(other), mcp_servers=[])).session_id
        ra, rb = await asyncio.gather(
            conn.prompt(session_id=a, prompt=text_prompt("alpha")),
            conn.prompt(session_id=b, prompt=text_prompt("beta")),
        )
    assert ra.stop_reason == rb.stop_reason == "end_turn"
    assert client.message_text(a).endswith("You said: alpha")
    assert client.message_text(b).endswith("You said: beta")


@pytest.mark.parametrize(("finish", "stop"), [("length", "max_tokens"), ("content_filter", "refusal")])
async def test_finish_reason_maps_to_stop_reason(tmp_path: Path, project: Path, finish: str, stop: str) -> None:
    model = write_script(tmp_path, [[{"say": "cut off mid"}, {"finish": finish}]])
    client = RecordingClient()
    async with punie_server(client, model, tmp_path) as (conn, _):
        sid = await start_session(conn, client, project)
        resp = await conn.prompt(session_id=sid, prompt=text_prompt("go"))
    assert resp.stop_reason == stop


async def test_repeated_identical_tool_call_is_not_run_again(tmp_path: Path, project: Path) -> None:
    call = {"call": "read_file", "args": {"path": "hello.py"}}
    model = write_script(tmp_path, [[call]])  # the last response repeats: a looping model
    client = RecordingClient()
    async with punie_server(client, model, tmp_path) as (conn, _):
        sid = await start_session(conn, client, project)
        resp = await conn.prompt(session_id=sid, prompt=text_prompt("loop"))
    assert resp.stop_reason == "max_turn_requests"
    finals = [e for e in client.tool_events(sid) if e.status in ("completed", "failed")]
    assert [e.status for e in finals] == ["completed", "failed"]
    assert "identical" in finals[-1].raw_output["output"]
    assert "repeated the same `read_file` call" in client.message_text(sid)


async def test_request_limit_ends_turn(tmp_path: Path, project: Path) -> None:
    responses = [[{"call": "read_file", "args": {"path": "hello.py", "offset": i}}] for i in range(1, 10)]
    model = write_script(tmp_path, responses)
    client = RecordingClient()
    async with punie_server(client, model, tmp_path, "--request-limit", "3") as (conn, _):
        sid = await start_session(conn, client, project)
        resp = await conn.prompt(session_id=sid, prompt=text_prompt("go"))
    assert resp.stop_reason == "max_turn_requests"
    assert "request_limit" in client.message_text(sid)


async def test_unknown_session_is_resource_not_found(tmp_path: Path) -> None:
    client = RecordingClient()
    async with punie_server(client, "test", tmp_path) as (conn, _):
        await conn.initialize(protocol_version=1)
        with pytest.raises(acp.RequestError) as info:
            await conn.prompt(session_id="nope", prompt=text_prompt("hi"))
    assert info.value.code == -32002


async def test_set_mode_announces_current_mode(tmp_path: Path, project: Path) -> None:
    client = RecordingClient()
    async with punie_server(client, "test", tmp_path) as (conn, _):
        sid = await start_session(conn, client, project)
        await conn.set_session_mode(session_id=sid, mode_id="read-only")
        await client.wait_for(sid, lambda ups: any(u.session_update == "current_mode_update" for u in ups))
        with pytest.raises(acp.RequestError):
            await conn.set_session_mode(session_id=sid, mode_id="yolo")
    update = next(u for u in client.updates[sid] if u.session_update == "current_mode_update")
    assert update.current_mode_id == "read-only"
