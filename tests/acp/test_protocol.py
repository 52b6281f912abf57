"""Protocol behaviour of the ACP face, in process (moved here from tests/e2e/test_acp_server.py)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import acp
import pytest

from punie_acp.config import Settings
from tests.acp.loopback import loopback, scripted
from tests.support.acp_client import RecordingClient, text_prompt

pytestmark = pytest.mark.anyio


async def test_tool_call_lifecycle(project: Path) -> None:
    async with loopback() as lb:
        sid = await lb.start_session(project)
        resp = await lb.conn.prompt(session_id=sid, prompt=text_prompt("what is in hello.py?"))
    assert resp.stop_reason == "end_turn"
    events = lb.client.tool_events(sid)
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
    assert lb.client.message_text(sid).startswith("I read it: 2 lines.")


async def test_path_outside_root_is_a_failed_tool_call(project: Path) -> None:
    (project.parent / "secret.txt").write_text("do not read")
    async with loopback() as lb:
        sid = await lb.start_session(project)
        resp = await lb.conn.prompt(session_id=sid, prompt=text_prompt("show me ../secret.txt"))
        assert resp.stop_reason == "end_turn"
        final = lb.client.tool_events(sid)[-1]
        assert final.status == "failed"
        assert "outside the project root" in final.raw_output["output"]
        assert "do not read" not in lb.client.message_text(sid)
        again = await lb.conn.prompt(session_id=sid, prompt=text_prompt("hello"))
        assert again.stop_reason == "end_turn"


LONG_PATH = "/" + "a" * 5000  # longer than any file name may be


@pytest.mark.parametrize("cwd", ["relative/dir", "/definitely/not/here", "FILE", "", "/tmp/\x00nul", LONG_PATH])
async def test_invalid_cwd_is_invalid_params_with_a_clear_message(project: Path, cwd: str) -> None:
    if cwd == "FILE":
        cwd = str(project / "hello.py")
    async with loopback() as lb:
        await lb.conn.initialize(protocol_version=1)
        with pytest.raises(acp.RequestError) as info:
            await lb.conn.new_session(cwd=cwd, mcp_servers=[])
        assert info.value.code == -32602
        message = str(info.value)
        assert "cwd" in message and "Invalid params" not in message
        assert len(message) < 400  # a hostile value is not echoed whole
        if cwd and "\x00" not in cwd and cwd != LONG_PATH:
            assert cwd in message
        ok = await lb.conn.new_session(cwd=str(project), mcp_servers=[])
        assert ok.session_id


async def test_bad_project_settings_are_invalid_params_naming_the_file(project: Path) -> None:
    (project / "pyproject.toml").write_text('[tool.punie]\nrequest_limit = "many"\n')
    async with loopback() as lb:
        await lb.conn.initialize(protocol_version=1)
        with pytest.raises(acp.RequestError) as info:
            await lb.conn.new_session(cwd=str(project), mcp_servers=[])
    assert info.value.code == -32602
    assert "pyproject.toml" in str(info.value) and "request_limit" in str(info.value)


async def test_two_sessions_stream_independently(tmp_path: Path, project: Path) -> None:
    other = tmp_path / "other"
    other.mkdir()
    async with loopback() as lb:
        a = await lb.start_session(project)
        b = (await lb.conn.new_session(cwd=str(other), mcp_servers=[])).session_id
        ra, rb = await asyncio.gather(
            lb.conn.prompt(session_id=a, prompt=text_prompt("alpha")),
            lb.conn.prompt(session_id=b, prompt=text_prompt("beta")),
        )
    assert ra.stop_reason == rb.stop_reason == "end_turn"
    assert lb.client.message_text(a).endswith("You said: alpha")
    assert lb.client.message_text(b).endswith("You said: beta")


@pytest.mark.parametrize(("finish", "stop"), [("length", "max_tokens"), ("content_filter", "refusal")])
async def test_finish_reason_maps_to_stop_reason(project: Path, finish: str, stop: str) -> None:
    async with loopback(scripted([[{"say": "cut off mid"}, {"finish": finish}]])) as lb:
        sid = await lb.start_session(project)
        resp = await lb.conn.prompt(session_id=sid, prompt=text_prompt("go"))
    assert resp.stop_reason == stop


async def test_repeated_identical_tool_call_is_not_run_again(project: Path) -> None:
    call = {"call": "read_file", "args": {"path": "hello.py"}}
    async with loopback(scripted([[call]])) as lb:  # the last response repeats: a looping model
        sid = await lb.start_session(project)
        resp = await lb.conn.prompt(session_id=sid, prompt=text_prompt("loop"))
    assert resp.stop_reason == "max_turn_requests"
    finals = [e for e in lb.client.tool_events(sid) if e.status in ("completed", "failed")]
    assert [e.status for e in finals] == ["completed", "failed"]
    assert "identical" in finals[-1].raw_output["output"]
    assert "repeated the same `read_file` call" in lb.client.message_text(sid)


async def test_request_limit_ends_turn(project: Path) -> None:
    responses = [[{"call": "read_file", "args": {"path": "hello.py", "offset": i}}] for i in range(1, 10)]
    async with loopback(scripted(responses), Settings(request_limit=3, log_file="")) as lb:
        sid = await lb.start_session(project)
        resp = await lb.conn.prompt(session_id=sid, prompt=text_prompt("go"))
    assert resp.stop_reason == "max_turn_requests"
    assert "request_limit" in lb.client.message_text(sid)


async def test_unknown_session_is_resource_not_found_naming_it() -> None:
    async with loopback() as lb:
        await lb.conn.initialize(protocol_version=1)
        with pytest.raises(acp.RequestError) as info:
            await lb.conn.prompt(session_id="nope", prompt=text_prompt("hi"))
    assert info.value.code == -32002
    assert "'nope'" in str(info.value)


async def test_closed_session_is_gone(project: Path) -> None:
    async with loopback() as lb:
        sid = await lb.start_session(project)
        await lb.conn.close_session(session_id=sid)
        with pytest.raises(acp.RequestError) as info:
            await lb.conn.prompt(session_id=sid, prompt=text_prompt("hi"))
        assert info.value.code == -32002
        with pytest.raises(acp.RequestError) as again:
            await lb.conn.close_session(session_id=sid)
        assert again.value.code == -32002
        # Closed is not deleted: the session stays saved, to be loaded again.
        assert [s.session_id for s in (await lb.conn.list_sessions()).sessions] == [sid]


async def test_set_mode_announces_current_mode(project: Path) -> None:
    async with loopback() as lb:
        sid = await lb.start_session(project)
        await lb.conn.set_session_mode(session_id=sid, mode_id="read-only")
        await lb.client.wait_for(sid, lambda ups: any(u.session_update == "current_mode_update" for u in ups))
        with pytest.raises(acp.RequestError) as info:
            await lb.conn.set_session_mode(session_id=sid, mode_id="yolo")
        assert info.value.code == -32602 and "'yolo'" in str(info.value) and "read-only" in str(info.value)
    update = next(u for u in lb.client.updates[sid] if u.session_update == "current_mode_update")
    assert update.current_mode_id == "read-only"


async def test_errors_never_echo_a_huge_value_whole(project: Path) -> None:
    huge = "x" * 1_000_000
    async with loopback() as lb:
        sid = await lb.start_session(project)
        for request in (
            lb.conn.set_session_mode(session_id=sid, mode_id=huge),
            lb.conn.prompt(session_id=huge, prompt=text_prompt("hi")),
            lb.conn.close_session(session_id=huge),
        ):
            with pytest.raises(acp.RequestError) as info:
                await request
            assert 0 < len(str(info.value)) < 400


async def test_authenticate_says_none_is_needed() -> None:
    async with loopback() as lb:
        with pytest.raises(acp.RequestError) as info:
            await lb.conn.authenticate(method_id="anything")
    assert info.value.code == -32602
    assert "no authentication" in str(info.value)


async def test_a_second_prompt_while_one_runs_is_refused(project: Path) -> None:
    long_reply = " ".join(f"word{i}" for i in range(2000))
    async with loopback(scripted([[{"say": long_reply}]], chunk_delay=0.005)) as lb:
        sid = await lb.start_session(project)
        first = asyncio.create_task(lb.conn.prompt(session_id=sid, prompt=text_prompt("talk")))
        await lb.client.wait_for(sid, lambda ups: len(ups) >= 2)
        with pytest.raises(acp.RequestError) as info:
            await lb.conn.prompt(session_id=sid, prompt=text_prompt("again"))
        assert info.value.code == -32600
        assert "already running a prompt" in str(info.value)
        await lb.conn.cancel(session_id=sid)
        assert (await asyncio.wait_for(first, 30)).stop_reason == "cancelled"


async def test_list_sessions_filters_by_cwd(tmp_path: Path, project: Path) -> None:
    other = tmp_path / "elsewhere"
    other.mkdir()
    async with loopback(client=RecordingClient()) as lb:
        a = await lb.start_session(project)
        await lb.conn.new_session(cwd=str(other), mcp_servers=[])
        listed = await lb.conn.list_sessions(cwd=str(project.resolve()))
    assert [s.session_id for s in listed.sessions] == [a]
