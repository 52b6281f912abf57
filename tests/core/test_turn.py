"""The turn runner in-process, with fake models (no ACP, no subprocess)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import anyio
import pytest
from pydantic_ai.messages import ModelMessage, ModelRequest, ModelResponse, ToolCallPart, UserPromptPart
from pydantic_ai.models.function import AgentInfo, FunctionModel

from punie_acp.config import Settings
from punie_acp.core.events import Event, TextDelta, ToolFinished, ToolStarted, TurnEnded
from punie_acp.core.host import LocalHost
from punie_acp.core.service import CoreService
from punie_acp.core.session import Session, SessionManager
from punie_acp.core.turn import TurnRunner, consistent_history
from punie_acp.models.base import StatelessBackend
from punie_acp.models.replay import Call, Plan, Say, Think
from punie_acp.models.scripted import ScriptedModel
from punie_acp.tools.registry import default_tools

pytestmark = pytest.mark.anyio


def _session(root: Path, settings: Settings | None = None) -> Session:
    return SessionManager(settings or Settings()).create(str(root), lambda _sid: LocalHost())


async def test_second_turn_sees_the_first(project: Path) -> None:
    seen: list[list[ModelMessage]] = []

    async def reply(messages: list[ModelMessage], info: AgentInfo) -> AsyncIterator[str]:
        seen.append(list(messages))
        yield f"turn {len(seen)}"

    runner = TurnRunner(StatelessBackend(FunctionModel(stream_function=reply), "f"), default_tools())
    session = _session(project)
    events: list[Event] = []

    async def emit(event: Event) -> None:
        events.append(event)

    await runner.run(session, "first", emit)
    await runner.run(session, "second", emit)
    prompts = [
        p.content for m in seen[1] if isinstance(m, ModelRequest) for p in m.parts if isinstance(p, UserPromptPart)
    ]
    assert prompts == ["first", "second"]
    assert "".join(e.text for e in events if isinstance(e, TextDelta)) == "turn 1turn 2"


async def test_cancel_mid_turn_keeps_a_consistent_history(project: Path) -> None:
    words = " ".join(["w"] * 10_000)
    model = ScriptedModel([Plan([Say(words)], chunk_delay=0.001)])
    core = CoreService(StatelessBackend(model, "s"), Settings(log_file=""), default_tools())
    session = core.open_session(str(project), lambda _sid: LocalHost())
    got = anyio.Event()
    ended: list[TurnEnded] = []

    async def emit(event: Event) -> None:
        if isinstance(event, TextDelta):
            got.set()

    async def turn() -> None:
        ended.append(await core.run_turn(session.id, "talk", emit))

    async with anyio.create_task_group() as tg:
        tg.start_soon(turn)
        await got.wait()
        core.cancel(session.id)
    assert ended == [TurnEnded("cancelled")]
    assert not session.busy
    first = session.history[0]
    assert isinstance(first, ModelRequest)  # the user's prompt is kept for the next turn


def test_consistent_history_drops_dangling_tool_calls() -> None:
    request = ModelRequest(parts=[UserPromptPart("hi")])
    dangling = ModelResponse(parts=[ToolCallPart("read_file", {"path": "a"})])
    assert consistent_history([request, dangling]) == [request]


async def test_tool_error_is_a_failed_call_and_the_turn_goes_on(project: Path) -> None:
    model = ScriptedModel([Plan([Call("read_file", {"path": "missing.txt"})]), Plan([Say("it is missing")])])
    runner = TurnRunner(StatelessBackend(model, "s"), default_tools())
    events: list[Event] = []

    async def emit(event: Event) -> None:
        events.append(event)

    ended = await runner.run(_session(project), "read missing.txt", emit)
    assert ended.stop_reason == "end_turn"
    started = next(e for e in events if isinstance(e, ToolStarted))
    finished = next(e for e in events if isinstance(e, ToolFinished))
    assert started.kind == "read" and started.locations[0].path == project.resolve() / "missing.txt"
    assert not finished.ok and "does not exist" in str(finished.raw_output)


async def test_bad_arguments_beyond_retries_end_the_turn_with_a_message(project: Path) -> None:
    model = ScriptedModel([Plan([Call("read_file", {"nonsense": i})]) for i in range(10)])
    runner = TurnRunner(StatelessBackend(model, "s"), default_tools())
    texts: list[str] = []

    async def emit(event: Event) -> None:
        if isinstance(event, TextDelta):
            texts.append(event.text)

    ended = await runner.run(_session(project), "go", emit)
    assert ended.stop_reason == "end_turn"
    assert "unusable" in "".join(texts)


async def test_the_same_call_after_an_edit_is_not_a_loop(project: Path) -> None:
    read = Call("read_file", {"path": "hello.py"})
    edit = Call("edit_file", {"path": "hello.py", "old_text": "42", "new_text": "43"})
    model = ScriptedModel([Plan([read]), Plan([edit]), Plan([read]), Plan([Say("done")])])
    runner = TurnRunner(StatelessBackend(model, "s"), default_tools())
    session = _session(project, Settings(mode="auto-edit"))
    finished: list[ToolFinished] = []

    async def emit(event: Event) -> None:
        if isinstance(event, ToolFinished):
            finished.append(event)

    ended = await runner.run(session, "bump the answer", emit)
    assert ended.stop_reason == "end_turn"
    assert [f.ok for f in finished] == [True, True, True]
    assert "answer = 43" in str(finished[-1].raw_output)


async def test_thinking_cut_off_by_the_token_limit_ends_with_max_tokens(project: Path) -> None:
    model = ScriptedModel([Plan([Think("I will think for a long time and")], finish="length")])
    runner = TurnRunner(StatelessBackend(model, "s"), default_tools())
    texts: list[str] = []

    async def emit(event: Event) -> None:
        if isinstance(event, TextDelta):
            texts.append(event.text)

    ended = await runner.run(_session(project), "go", emit)
    assert ended.stop_reason == "max_tokens"
    assert "token limit" in "".join(texts)
