"""Run several tools the way a turn does (scripted model → PydanticAI → tool), in process.

`EditorDouble` is an `EditorHost` for tests: it answers permission prompts from a list,
records them, and (when given fs capabilities) serves reads from its own buffers and
records writes instead of touching disk, like an editor holding unsaved files.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from punie_acp.config import Settings
from punie_acp.core.events import Event, ToolFinished, ToolProgress, ToolStarted, TurnEnded
from punie_acp.core.host import (
    HostCapabilities,
    LocalHost,
    PermissionOutcome,
    PermissionRequest,
    Terminal,
    TerminalSpec,
)
from punie_acp.core.session import Session, SessionManager
from punie_acp.core.turn import TurnRunner
from punie_acp.models.base import StatelessBackend
from punie_acp.models.scripted import ScriptedModel, parse_script
from punie_acp.tools.registry import default_tools


@dataclass
class EditorDouble:
    answers: list[PermissionOutcome] = field(default_factory=list)
    caps: HostCapabilities = field(default_factory=HostCapabilities)
    buffers: dict[Path, str] = field(default_factory=dict)
    requests: list[PermissionRequest] = field(default_factory=list)
    writes: list[tuple[Path, str]] = field(default_factory=list)
    reads: list[Path] = field(default_factory=list)
    on_prompt: Callable[[PermissionRequest], Awaitable[None]] | None = None
    fs_error: Exception | None = None  # raised by every fs call: an editor that refuses

    @property
    def capabilities(self) -> HostCapabilities:
        return self.caps

    async def read_text_file(self, path: Path, line: int | None = None, limit: int | None = None) -> str:
        self.reads.append(path)
        if self.fs_error is not None:
            raise self.fs_error
        if path in self.buffers:
            lines = self.buffers[path].splitlines(keepends=True)
            start = max((line or 1) - 1, 0)
            return "".join(lines[start : None if limit is None else start + limit])
        return await LocalHost().read_text_file(path, line, limit)

    async def write_text_file(self, path: Path, content: str) -> None:
        if self.fs_error is not None:
            raise self.fs_error
        self.writes.append((path, content))
        self.buffers[path] = content

    async def request_permission(self, request: PermissionRequest) -> PermissionOutcome:
        self.requests.append(request)
        if self.on_prompt is not None:
            await self.on_prompt(request)
        if not self.answers:
            raise AssertionError(f"unexpected permission prompt: {request.title}")
        return self.answers.pop(0)

    async def create_terminal(self, spec: TerminalSpec) -> Terminal:
        raise NotImplementedError("no terminals in these tests")


@dataclass
class TurnRecord:
    events: list[Event]
    ended: TurnEnded

    def finished(self) -> list[ToolFinished]:
        return [e for e in self.events if isinstance(e, ToolFinished)]

    def result(self) -> ToolFinished:
        done = self.finished()
        assert len(done) == 1, self.events
        return done[0]

    def started(self) -> list[ToolStarted]:
        return [e for e in self.events if isinstance(e, ToolStarted)]

    def progress(self) -> list[ToolProgress]:
        return [e for e in self.events if isinstance(e, ToolProgress)]


def new_session(root: Path, host: EditorDouble | None = None, mode: str = "ask") -> tuple[Session, EditorDouble]:
    editor = host or EditorDouble()
    session = SessionManager(Settings()).create(str(root), lambda _sid: editor)
    session.set_mode(mode)
    return session, editor


async def run_calls(session: Session, calls: Sequence[tuple[str, dict[str, Any]]]) -> TurnRecord:
    """One turn: the model makes `calls` (in parallel), then says 'done'."""
    steps: list[dict[str, Any]] = [{"call": name, "args": args} for name, args in calls]
    plans, _ = parse_script({"responses": [steps, [{"say": "done"}]]})
    runner = TurnRunner(StatelessBackend(ScriptedModel(plans), "script"), default_tools())
    events: list[Event] = []

    async def emit(event: Event) -> None:
        events.append(event)

    ended = await runner.run(session, "go", emit)
    return TurnRecord(events, ended)


async def call(session: Session, name: str, **args: Any) -> ToolFinished:
    record = await run_calls(session, [(name, args)])
    assert record.ended.stop_reason == "end_turn", record.ended
    return record.result()
