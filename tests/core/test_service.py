"""The core's front door (`CoreService`) without any protocol: sessions, turn lifecycle, failures."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from pydantic_ai.exceptions import ModelConnectionError
from pydantic_ai.messages import ModelMessage
from pydantic_ai.models.function import AgentInfo, FunctionModel

from punie_acp.config import Settings
from punie_acp.core.errors import BadRequest, ModelUnavailable, SessionBusy, SessionNotFound
from punie_acp.core.events import Event, ThoughtDelta
from punie_acp.core.host import LocalHost
from punie_acp.core.service import CoreService
from punie_acp.models.base import ModelNotAvailable, ProgressCallback, StatelessBackend
from punie_acp.models.demo import DemoModel
from punie_acp.tools.registry import default_tools

pytestmark = pytest.mark.anyio


class RecordingBackend(StatelessBackend):
    """A stateless backend that records which sessions it was told to forget, and can report loading."""

    def __init__(self, progress: list[str] | None = None, fail_with: str | None = None) -> None:
        super().__init__(DemoModel(chunk_delay=0), "recording")
        self.forgotten: list[str] = []
        self._progress = progress or []
        self._fail_with = fail_with

    def forget_session(self, session_id: str) -> None:
        self.forgotten.append(session_id)

    async def ensure_ready(self, on_progress: ProgressCallback) -> None:
        for text in self._progress:
            await on_progress(text)
        if self._fail_with is not None:
            raise ModelNotAvailable(self._fail_with)


def _core(backend: StatelessBackend, max_open_sessions: int = 32) -> CoreService:
    return CoreService(backend, Settings(log_file="", max_open_sessions=max_open_sessions), default_tools())


async def _ignore(event: Event) -> None:
    return None


async def test_every_way_a_session_closes_drops_the_backends_state(project: Path) -> None:
    backend = RecordingBackend()
    core = _core(backend, max_open_sessions=1)
    first = core.open_session(str(project), lambda _sid: LocalHost())
    second = core.open_session(str(project), lambda _sid: LocalHost())  # closes `first` to make room
    assert backend.forgotten == [first.id]
    core.close_session(second.id)
    assert backend.forgotten == [first.id, second.id]
    with pytest.raises(SessionNotFound):
        core.close_session(second.id)
    third = core.open_session(str(project), lambda _sid: LocalHost())
    await core.aclose()
    assert backend.forgotten[-1] == third.id


async def test_waiting_for_the_model_is_shown_as_thought(project: Path) -> None:
    core = _core(RecordingBackend(progress=["Loading m: reading weights 40%"]))
    session = core.open_session(str(project), lambda _sid: LocalHost())
    events: list[Event] = []

    async def emit(event: Event) -> None:
        events.append(event)

    await core.run_turn(session.id, "hi", emit)
    assert events[0] == ThoughtDelta("Loading m: reading weights 40%\n")


async def test_a_model_that_will_not_load_is_model_unavailable_logged_without_alarm(
    project: Path, caplog: pytest.LogCaptureFixture
) -> None:
    core = _core(RecordingBackend(fail_with="Model x is not downloaded. Download it with `hf download x`."))
    session = core.open_session(str(project), lambda _sid: LocalHost())
    with caplog.at_level(logging.INFO), pytest.raises(ModelUnavailable) as info:
        await core.run_turn(session.id, "hi", _ignore)
    assert str(info.value) == "Model x is not downloaded. Download it with `hf download x`."
    assert not session.busy
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert [r for r in caplog.records if r.exc_info], "the traceback is kept for the log file"


async def test_a_connection_failure_is_explained(project: Path) -> None:
    async def unreachable(messages: list[ModelMessage], info: AgentInfo) -> AsyncIterator[str]:
        raise ModelConnectionError("m", "Connection error.") from ConnectionRefusedError(111, "Connection refused")
        yield ""  # pragma: no cover (makes this an async generator)

    core = _core(StatelessBackend(FunctionModel(stream_function=unreachable), "m @ http://127.0.0.1:1/v1"))
    session = core.open_session(str(project), lambda _sid: LocalHost())
    with pytest.raises(ModelUnavailable) as info:
        await core.run_turn(session.id, "hi", _ignore)
    assert str(info.value).startswith("Cannot reach the model server at m @ http://127.0.0.1:1/v1 (connection refused)")


async def test_a_busy_session_refuses_a_second_turn(project: Path) -> None:
    core = _core(RecordingBackend())
    session = core.open_session(str(project), lambda _sid: LocalHost())
    refused: list[Exception] = []

    async def emit(event: Event) -> None:
        if not refused:
            try:
                await core.run_turn(session.id, "again", _ignore)
            except SessionBusy as exc:
                refused.append(exc)

    ended = await core.run_turn(session.id, "hi", emit)
    assert ended.stop_reason == "end_turn"
    assert refused and "already running a prompt" in str(refused[0])


async def test_bad_requests_say_what_is_wrong(project: Path) -> None:
    core = _core(RecordingBackend())
    with pytest.raises(BadRequest, match="absolute"):
        core.open_session("relative", lambda _sid: LocalHost())
    session = core.open_session(str(project), lambda _sid: LocalHost())
    with pytest.raises(BadRequest, match="unknown mode 'yolo'"):
        core.set_mode(session.id, "yolo")
    with pytest.raises(SessionNotFound, match="'nope'"):
        await core.run_turn("nope", "hi", _ignore)
