"""Turn and session lifecycle through the ACP face, in process: bounds, cancel, failures, a client gone."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import acp
import anyio
import pytest
from acp import schema
from pydantic_ai.messages import ModelMessage, ModelRequest, UserPromptPart
from pydantic_ai.models.function import AgentInfo, FunctionModel

from punie_acp.config import Settings
from punie_acp.models.base import StatelessBackend, UnavailableBackend
from tests.acp.loopback import loopback, scripted
from tests.support.acp_client import RecordingClient, text_prompt

pytestmark = pytest.mark.anyio

LONG_REPLY = " ".join(f"word{i}" for i in range(3000))


class StallingClient(RecordingClient):
    """An editor that shows the permission prompt and never answers it (the user walked away)."""

    def __init__(self) -> None:
        super().__init__()
        self.asked = asyncio.Event()

    async def request_permission(
        self, session_id: str, tool_call: schema.ToolCallUpdate, options: list[schema.PermissionOption], **kwargs: Any
    ) -> schema.RequestPermissionResponse:
        self.permission_requests.append(tool_call)
        self.asked.set()
        await asyncio.Event().wait()
        raise AssertionError("unreachable")


async def _until(predicate: Any, what: str) -> None:
    """Wait (with a generous failure timeout) until `predicate()` holds."""
    with anyio.fail_after(30):
        while not predicate():
            await anyio.sleep(0.01)
    assert predicate(), what


async def test_cancel_closes_the_tool_call_left_open(project: Path) -> None:
    edit = {"call": "write_file", "args": {"path": "new.txt", "content": "x"}}
    client = StallingClient()
    async with loopback(scripted([[edit], [{"say": "done"}]]), client=client) as lb:
        sid = await lb.start_session(project)
        turn = asyncio.create_task(lb.conn.prompt(session_id=sid, prompt=text_prompt("write")))
        await asyncio.wait_for(client.asked.wait(), 30)
        await lb.conn.cancel(session_id=sid)
        response = await asyncio.wait_for(turn, 30)
    assert response.stop_reason == "cancelled"
    events = client.tool_events(sid)
    call_id = events[0].tool_call_id
    final = [e for e in events if e.tool_call_id == call_id][-1]
    assert final.session_update == "tool_call_update" and final.status == "failed"
    assert final.raw_output == {"output": "cancelled"}
    assert not (project / "new.txt").exists()


async def test_a_full_server_closes_the_least_recently_used_idle_session(tmp_path: Path, project: Path) -> None:
    settings = Settings(max_open_sessions=2, log_file="")
    async with loopback(settings=settings) as lb:
        first = await lb.start_session(project)
        second = (await lb.conn.new_session(cwd=str(project), mcp_servers=[])).session_id
        # `first` was used last, so `second` is the least recently used.
        assert (await lb.conn.prompt(session_id=first, prompt=text_prompt("hi"))).stop_reason == "end_turn"
        third = (await lb.conn.new_session(cwd=str(project), mcp_servers=[])).session_id
        # Open sessions: `session/list` shows every saved one, closed or not.
        assert {s.id for s in lb.core.sessions()} == {first, third}
        with pytest.raises(acp.RequestError) as info:
            await lb.conn.prompt(session_id=second, prompt=text_prompt("hi"))
        assert info.value.code == -32002
        assert "closed to make room" in str(info.value) and "at most 2" in str(info.value)


async def test_a_full_server_never_closes_a_busy_session(project: Path) -> None:
    settings = Settings(max_open_sessions=2, log_file="")
    async with loopback(scripted([[{"say": LONG_REPLY}]], chunk_delay=0.005), settings) as lb:
        a = await lb.start_session(project)
        b = (await lb.conn.new_session(cwd=str(project), mcp_servers=[])).session_id
        turns = [asyncio.create_task(lb.conn.prompt(session_id=s, prompt=text_prompt("talk"))) for s in (a, b)]
        await lb.client.wait_for(a, lambda ups: len(ups) >= 2)
        await lb.client.wait_for(b, lambda ups: len(ups) >= 2)
        with pytest.raises(acp.RequestError) as info:
            await lb.conn.new_session(cwd=str(project), mcp_servers=[])
        assert info.value.code == -32600
        assert "running a prompt" in str(info.value) and "at most 2" in str(info.value)
        await lb.conn.cancel(session_id=a)
        assert (await asyncio.wait_for(turns[0], 30)).stop_reason == "cancelled"
        # Now `a` is idle: it makes room, `b` keeps running.
        c = (await lb.conn.new_session(cwd=str(project), mcp_servers=[])).session_id
        assert {s.id for s in lb.core.sessions()} == {b, c}
        await lb.conn.cancel(session_id=b)
        assert (await asyncio.wait_for(turns[1], 30)).stop_reason == "cancelled"


async def test_a_model_that_cannot_be_had_is_an_error_with_its_reason(project: Path) -> None:
    reason = "cannot read model script /nowhere/script.json: No such file or directory"
    async with loopback(UnavailableBackend(reason)) as lb:
        sid = await lb.start_session(project)
        with pytest.raises(acp.RequestError) as info:
            await lb.conn.prompt(session_id=sid, prompt=text_prompt("hi"))
        assert info.value.code == -32603
        assert str(info.value) == reason
        # Still serving, and the session is not left busy.
        with pytest.raises(acp.RequestError) as again:
            await lb.conn.prompt(session_id=sid, prompt=text_prompt("hi"))
        assert str(again.value) == reason


async def test_an_unexpected_failure_names_the_log_file_and_logs_the_traceback(
    project: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    calls = 0

    async def flaky(messages: list[ModelMessage], info: AgentInfo) -> AsyncIterator[str]:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise ZeroDivisionError("the model's own bug")
        yield "fine now"

    log_file = str(tmp_path / "punie.log")
    backend = StatelessBackend(FunctionModel(stream_function=flaky), "flaky")
    with caplog.at_level(logging.ERROR):
        async with loopback(backend, Settings(log_file=log_file)) as lb:
            sid = await lb.start_session(project)
            with pytest.raises(acp.RequestError) as info:
                await lb.conn.prompt(session_id=sid, prompt=text_prompt("hi"))
            again = await lb.conn.prompt(session_id=sid, prompt=text_prompt("hi"))
    assert info.value.code == -32603
    message = str(info.value)
    assert "ZeroDivisionError: the model's own bug" in message and log_file in message
    assert "TaskGroup" not in message
    assert again.stop_reason == "end_turn" and lb.client.message_text(sid) == "fine now"
    failures = [r for r in caplog.records if r.exc_info and "failed unexpectedly" in r.getMessage()]
    assert failures, "the traceback goes to the log"


async def test_a_client_gone_mid_turn_ends_the_turn_and_keeps_the_conversation(
    project: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    async with loopback(scripted([[{"say": LONG_REPLY}], [{"say": "short"}]], chunk_delay=0.005)) as lb:
        sid = await lb.start_session(project)
        session = lb.core.session(sid)
        turn = asyncio.create_task(lb.conn.prompt(session_id=sid, prompt=text_prompt("talk to me")))
        await lb.client.wait_for(sid, lambda ups: len(ups) >= 3)
        await lb.conn.close()  # the editor goes away without a word
        await _until(lambda: not session.busy, "the turn ended")
        with pytest.raises(ConnectionError):
            await turn  # the client's own side of the request: its connection is closed
        first = session.history[0]
        assert isinstance(first, ModelRequest)
        assert any(isinstance(p, UserPromptPart) and p.content == "talk to me" for p in first.parts)
        # The core still serves: a new turn on the same session runs (to a face that listens).
        seen: list[object] = []

        async def collect(event: object) -> None:
            seen.append(event)

        ended = await lb.core.run_turn(sid, "again", collect)
        assert ended.stop_reason == "end_turn" and seen
    # A client going away is expected: a cancelled turn, not an unexpected failure.
    assert not [r for r in caplog.records if "failed unexpectedly" in r.getMessage()]
    assert any("stopped taking updates" in r.getMessage() for r in caplog.records)


async def test_a_client_gone_during_a_permission_prompt_writes_nothing(
    project: Path, caplog: pytest.LogCaptureFixture
) -> None:
    edit = {"call": "write_file", "args": {"path": "new.txt", "content": "x"}}
    client = StallingClient()
    async with loopback(scripted([[edit], [{"say": "done"}]]), client=client) as lb:
        sid = await lb.start_session(project)
        session = lb.core.session(sid)
        turn = asyncio.create_task(lb.conn.prompt(session_id=sid, prompt=text_prompt("write")))
        await asyncio.wait_for(client.asked.wait(), 30)
        await lb.conn.close()
        await _until(lambda: not session.busy, "the turn ended")
        with pytest.raises(ConnectionError):
            await turn
    assert not (project / "new.txt").exists()
    assert not [r for r in caplog.records if "failed unexpectedly" in r.getMessage()]
