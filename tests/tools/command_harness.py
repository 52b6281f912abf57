"""Run one command-type tool call through the real turn runner, in process, with cancel.

Beside the events it records what an ACP client would receive (the real `UpdateMapper`), and
`watch(run, cancel)` runs alongside the turn to cancel it the way `session/cancel` does.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio

from punie_acp.acp.updates import UpdateMapper
from punie_acp.config import Settings
from punie_acp.core.events import Event, TextContent, ToolFinished, ToolProgress, TurnEnded
from punie_acp.core.host import EditorHost
from punie_acp.core.session import Session
from punie_acp.core.turn import TurnRunner
from punie_acp.models.base import StatelessBackend
from punie_acp.models.replay import Call, Plan, Say
from punie_acp.models.scripted import ScriptedModel
from punie_acp.tools.registry import default_tools
from punie_acp.workspace.root import Workspace
from tests.support.terminals import RecordingHost


@dataclass
class ToolRun:
    events: list[Event] = field(default_factory=list)
    updates: list[Any] = field(default_factory=list)  # what an ACP client would have received
    cancelled: bool = False
    ended: TurnEnded | None = None

    @property
    def finished(self) -> ToolFinished:
        done = [e for e in self.events if isinstance(e, ToolFinished)]
        assert done, f"the tool never finished: {self.events}"
        return done[-1]

    @property
    def ok(self) -> bool:
        return self.finished.ok

    @property
    def text(self) -> str:
        return str(self.finished.raw_output)

    @property
    def progress(self) -> list[ToolProgress]:
        return [e for e in self.events if isinstance(e, ToolProgress)]

    def live_texts(self) -> list[str]:
        return [c.text for p in self.progress if p.block for c in p.content if isinstance(c, TextContent)]

    def locations(self) -> list[tuple[Path, int | None]]:
        return [(loc.path, loc.line) for p in self.progress for loc in p.locations]


async def run_tool(
    root: Path,
    name: str,
    args: dict[str, Any],
    *,
    host: EditorHost | None = None,
    mode: str = "ask",
    settings: Settings | None = None,
    watch: Callable[[ToolRun, Callable[[], None]], Coroutine[Any, Any, None]] | None = None,
) -> ToolRun:
    """One turn in which the model calls `name(**args)` once, then says "done"."""
    model = ScriptedModel([Plan([Call(name, args)]), Plan([Say("done")])])
    runner = TurnRunner(StatelessBackend(model, "script"), default_tools())
    session = Session(
        id="s1",
        workspace=Workspace(root),
        settings=settings or Settings(command_timeout=60.0),
        host=host or RecordingHost(),
        mode_id=mode,
    )
    run = ToolRun()
    mapper = UpdateMapper()

    async def emit(event: Event) -> None:
        run.events.append(event)
        update = mapper.map(event)
        if update is not None:
            run.updates.append(update)

    def cancel() -> None:
        run.cancelled = True
        session.cancel()

    async def turn() -> None:
        with anyio.CancelScope() as scope:
            session.begin_turn(scope)
            try:
                run.ended = await runner.run(session, "go", emit)
            finally:
                session.end_turn()

    with anyio.fail_after(120):  # a failure guard, not a timing assertion
        async with anyio.create_task_group() as tg:
            if watch is not None:
                tg.start_soon(watch, run, cancel)
            await turn()
            tg.cancel_scope.cancel()
    return run


async def until(condition: Callable[[], bool]) -> None:
    """Poll until `condition()` holds (the harness's fail_after guards it)."""
    while not condition():
        await anyio.sleep(0.02)
