"""The modules a turn needs, imported on a thread while the editor opens its session.

PydanticAI, the turn runner and the tools take well over a second to import; `session/new`
needs none of them. So the core opens sessions without them and imports them here, on a
daemon thread, started once a session exists (or when something first needs them). Code that
needs them awaits `ready()`, which never blocks the event loop: importing a module that another
thread is still importing would hold the loop on the import lock (cancel and every other
request would wait).
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import anyio

from punie_acp.core.tooling import AgentTool
from punie_acp.models.base import ModelBackend

if TYPE_CHECKING:
    from punie_acp.core.turn import TurnRunner

# The tools, or how to make them once the turn modules are loaded.
Tools = Sequence[AgentTool] | Callable[[], Sequence[AgentTool]]

# What a turn, a saved session's history and an editor's MCP servers import.
TURN_MODULES = (
    "pydantic_ai",
    "punie_acp.core.permissions",
    "punie_acp.core.turn",
    "punie_acp.core.compaction",
    "punie_acp.core.mcp",
    "punie_acp.core.keeper",
    "punie_acp.tools.registry",
)


class Preload:
    """Imports `modules` once, on a thread, then runs `then` there (work the first turn would
    otherwise do on the event loop); `ready()` waits for both (re-raising a failure)."""

    def __init__(self, modules: Sequence[str] = TURN_MODULES, then: Callable[[], object] | None = None) -> None:
        self._modules = tuple(modules)
        self._then = then
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._done = threading.Event()
        self._error: BaseException | None = None

    @property
    def started(self) -> bool:
        return self._thread is not None

    @property
    def done(self) -> bool:
        return self._done.is_set()

    def start(self) -> None:
        with self._lock:
            if self._thread is not None:
                return
            self._thread = threading.Thread(target=self._run, name="punie-preload", daemon=True)
            self._thread.start()

    async def ready(self) -> None:
        self.start()
        if not self._done.is_set():
            await anyio.to_thread.run_sync(self._done.wait, abandon_on_cancel=True)
        if self._error is not None:
            raise self._error

    def _run(self) -> None:
        try:
            for name in self._modules:
                importlib.import_module(name)
            if self._then is not None:
                self._then()
        except BaseException as exc:  # re-raised by every `ready()`
            self._error = exc
        finally:
            self._done.set()


class TurnModules:
    """The turn runner, built on the preload thread once its modules are in (PydanticAI's agent,
    the tools' and the history's schemas cost the first turn tens of milliseconds otherwise)."""

    def __init__(self, backend: ModelBackend, tools: Tools) -> None:
        self._backend = backend
        self._tools = tools
        self._runner: TurnRunner | None = None
        self.preload = Preload(then=self._prepare)

    def _prepare(self) -> None:
        self.runner()
        from punie_acp.core.keeper import dump_history

        dump_history([])  # PydanticAI builds the history's schema on first use (~50 ms, after the 1st turn)

    def runner(self) -> TurnRunner:
        """The runner; call after `await preload.ready()` (its modules are loaded by then)."""
        if self._runner is None:
            from punie_acp.core.turn import TurnRunner

            tools = self._tools() if callable(self._tools) else self._tools
            self._runner = TurnRunner(self._backend, tools)
        return self._runner
