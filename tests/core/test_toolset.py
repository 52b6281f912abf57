"""ReportingToolset's rules, with tools made for the purpose: when a call starts, and what a crash becomes."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from pydantic_ai import RunContext

from punie_acp.config import Settings
from punie_acp.core.context import ToolContext
from punie_acp.core.events import Event, ToolFinished, ToolProgress, TurnEnded
from punie_acp.core.host import PermissionRequest
from punie_acp.core.session import SessionManager
from punie_acp.core.tooling import AgentTool
from punie_acp.core.turn import TurnRunner
from punie_acp.models.base import StatelessBackend
from punie_acp.models.replay import Call, Plan, Say
from punie_acp.models.scripted import ScriptedModel
from tests.support.terminals import RecordingHost

pytestmark = pytest.mark.anyio


async def crashes(ctx: RunContext[ToolContext], text: str) -> str:
    """A tool with a bug: an exception nobody meant to raise."""
    raise KeyError(f"{text}\nsecond line of a long message")


async def reads_but_asks(ctx: RunContext[ToolContext]) -> str:
    """A tool of a read kind that asks permission anyway (a tool author's mistake)."""
    await ctx.deps.permissions.require("execute", PermissionRequest("", "anything", "execute", {}))
    return "ran"


async def asks_nothing_after_all(ctx: RunContext[ToolContext]) -> str:
    """An execute-kind tool that returns before asking (nothing to do)."""
    return "nothing to do"


TOOLS = [
    AgentTool(crashes, kind="read", title=lambda args: "Crash"),
    AgentTool(reads_but_asks, kind="read", title=lambda args: "Sneaky"),
    AgentTool(asks_nothing_after_all, kind="execute", title=lambda args: "Idle"),
]


async def turn(root: Path, call: Call, host: RecordingHost) -> tuple[list[Event], TurnEnded]:
    model = ScriptedModel([Plan([call]), Plan([Say("done")])])
    runner = TurnRunner(StatelessBackend(model, "s"), TOOLS)
    session = SessionManager(Settings()).create(str(root), lambda _sid: host)
    events: list[Event] = []

    async def emit(event: Event) -> None:
        events.append(event)

    ended = await runner.run(session, "go", emit)
    return events, ended


def finished(events: list[Event]) -> ToolFinished:
    [done] = [e for e in events if isinstance(e, ToolFinished)]
    return done


async def test_an_unexpected_exception_is_a_failed_call_of_one_line_and_the_turn_goes_on(
    project: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="punie_acp.core.toolset"):
        events, ended = await turn(project, Call("crashes", {"text": "boom"}), RecordingHost())
    assert ended.stop_reason == "end_turn"
    done = finished(events)
    assert not done.ok
    assert "\n" not in str(done.raw_output)
    assert "crashes failed unexpectedly (KeyError:" in str(done.raw_output) and "boom" in str(done.raw_output)
    [record] = [r for r in caplog.records if r.name == "punie_acp.core.toolset"]
    assert record.exc_info is not None and record.exc_info[0] is KeyError  # the traceback goes to the log


async def test_a_tool_that_asks_without_a_gated_kind_fails_before_asking(project: Path) -> None:
    host = RecordingHost("allow_once")
    events, ended = await turn(project, Call("reads_but_asks", {}), host)
    assert ended.stop_reason == "end_turn"
    assert not finished(events).ok and "UndeclaredPermission" in str(finished(events).raw_output)
    assert host.permission_requests == []


async def test_a_gated_tool_that_never_asks_never_goes_in_progress(project: Path) -> None:
    events, ended = await turn(project, Call("asks_nothing_after_all", {}), RecordingHost())
    assert ended.stop_reason == "end_turn"
    assert finished(events).ok
    assert not any(isinstance(e, ToolProgress) and e.started for e in events)
