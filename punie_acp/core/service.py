"""The core's front door: open and close sessions, run a turn with its whole lifecycle.

Every face goes through `CoreService`: the ACP agent (`acp/agent.py`), `punie ask`
(`headless.py`) and the test harnesses. It owns what a face must not re-implement:

- a turn's cancel scope (`cancel()` stops model and tools; a closed session stops its turn),
- waiting for the model to load, with progress shown as thought text,
- closing tool calls left open when a turn stops early, so no editor shows one spinning,
- ending the turn when the face stops taking events (an editor gone mid-turn),
- turning failures into `CoreError`s with one line a person can act on; the traceback of an
  unexpected one goes to the log file,
- dropping the backend's per-session state (a KV cache) whenever a session closes,
- keeping every session in the store as it happens, and bringing one back (`load_session`,
  `resume_session`, see "Saved sessions" below and `keeper.py`).

The agent-panel features are here too, each a small hook: the session's config options (model,
thinking, mode: `core/config_options.py`), slash commands (`core/commands.py`), compaction
before a turn would overflow the context (`core/compaction.py`), the context usage after a turn,
and the session's MCP servers (`core/mcp.py`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, TypeVar

import anyio
import anyio.lowlevel

from punie_acp.config import Settings, generation_settings
from punie_acp.core import commands, lifecycle
from punie_acp.core.archive import SessionArchive
from punie_acp.core.config_options import (
    MODE,
    MODEL,
    THINKING,
    ConfigOption,
    SessionChoices,
    options_for,
    text_value,
    thinking_value,
    unknown_option,
)
from punie_acp.core.context import Emit
from punie_acp.core.errors import (
    BadRequest,
    CoreError,
    ModelUnavailable,
    SessionBusy,
    TurnFailed,
)
from punie_acp.core.events import TextDelta, TurnEnded
from punie_acp.core.host import EditorHost
from punie_acp.core.keeper import SessionKeeper
from punie_acp.core.preload import Tools, TurnModules
from punie_acp.core.session import Session, SessionManager, quoted
from punie_acp.core.turn_events import TurnEvents
from punie_acp.models.base import ModelBackend, ModelNotAvailable
from punie_acp.models.failures import explain_model_failure
from punie_acp.models.registry import ModelCatalog
from punie_acp.store import Page, SessionStore, StoredItem
from punie_acp.store.memory import MemoryStore

if TYPE_CHECKING:
    from pydantic_ai.settings import ModelSettings

    from punie_acp.core.mcp import McpServerSpec, SessionMcp

log = logging.getLogger(__name__)
_T = TypeVar("_T")


class CoreService:
    def __init__(
        self,
        backend: ModelBackend,
        settings: Settings,
        tools: Tools,
        store: SessionStore | None = None,
    ) -> None:
        self._backend = backend
        self._settings = settings
        # Sessions open without PydanticAI; a turn awaits it and its runner (see `preload.py`).
        self.turns = TurnModules(backend, tools)
        self._sessions = SessionManager(settings, on_close=self._forget)
        self.catalog = ModelCatalog(backend, settings)
        self._choices: dict[str, SessionChoices] = {}
        self._mcp: dict[str, SessionMcp] = {}
        self._closing: set[anyio.Event] = set()
        self._used: dict[str, int] = {}
        # Without a store (tests, `punie ask`) sessions are kept for this process only.
        self._keeper = SessionKeeper(store if store is not None else MemoryStore())
        self._archive = SessionArchive(self._keeper, self._sessions, self._restore_choices)

    @property
    def model_name(self) -> str:
        return self._backend.name

    def start(self) -> None:
        """Begin loading the model in the background, so the first prompt waits less."""
        self._backend.start_loading()

    # Sessions ---------------------------------------------------------------------------

    def open_session(self, cwd: str, host_for: Callable[[str], EditorHost]) -> Session:
        """A new session rooted at `cwd`; `host_for(session_id)` gives its editor.

        Raises `BadRequest` (cwd) or `TooManySessions` (every open session is busy).
        """
        session = self._sessions.create(cwd, host_for)
        self._choices[session.id] = SessionChoices(self.catalog.default_spec)
        self._keeper.created(session)
        self._backend.start_loading()
        return session

    def preload_turn_modules(self) -> None:
        """Start importing what a turn needs (the faces call this once a new session is answered)."""
        self.turns.preload.start()

    async def turn_modules_ready(self) -> None:
        await self.turns.preload.ready()

    def attach_mcp(self, session_id: str, servers: Sequence[McpServerSpec]) -> None:
        """Give the session the editor's MCP servers (session/new, session/load); replaces earlier ones."""
        session = self._sessions.get(session_id)
        self._close_mcp(session_id)
        if servers:
            from punie_acp.core.mcp import start_servers  # loaded: callers await `turn_modules_ready()`

            self._mcp[session_id] = start_servers(servers, session.root, session.settings.command_timeout)

    def close_session(self, session_id: str) -> None:
        """Stop its turn, close its workspace and drop the backend's state for it."""
        self._sessions.get(session_id)  # SessionNotFound, with the reason when known
        self._sessions.close(session_id)

    def session(self, session_id: str) -> Session:
        return self._sessions.get(session_id)

    def sessions(self, cwd: str | None = None) -> list[Session]:
        return [s for s in self._sessions.all() if cwd is None or str(s.root) == cwd]

    def set_mode(self, session_id: str, mode_id: str) -> Session:
        session = self._sessions.get(session_id)
        session.set_mode(mode_id)
        self._keeper.chose(session.id, "mode", mode_id)
        return session

    def cancel(self, session_id: str) -> None:
        """Stop the session's running turn; a no-op when idle or unknown (cancel is a notification)."""
        session = self._sessions.find(session_id)
        if session is not None:
            session.cancel()

    async def aclose(self) -> None:
        self._sessions.close_all()
        for done in list(self._closing):
            with anyio.move_on_after(10):
                await done.wait()
        await lifecycle.shutdown()  # language servers: shutdown/exit, then stopped
        await self._keeper.store.aclose()
        for backend in self.catalog.built():
            await backend.aclose()

    def _forget(self, session: Session) -> None:
        for backend in self.catalog.built():
            backend.forget_session(session.id)
        self._choices.pop(session.id, None)
        self._used.pop(session.id, None)
        self._close_mcp(session.id)
        lifecycle.session_closed(session.id, session.root)  # its project's language servers may stop

    def _close_mcp(self, session_id: str) -> None:
        mcp = self._mcp.pop(session_id, None)
        if mcp is None:
            return
        # Closing is synchronous for the session store; the servers stop in the background
        # (and `aclose` waits for them).
        done = anyio.Event()
        self._closing.add(done)

        async def stop() -> None:
            try:
                await mcp.aclose()
            finally:
                done.set()
                self._closing.discard(done)

        try:
            asyncio.get_running_loop().create_task(stop())
        except RuntimeError:  # no loop (a synchronous caller): nothing was started on one either
            self._closing.discard(done)

    # Panel: config options, usage -------------------------------------------------------

    def config_options(self, session_id: str) -> list[ConfigOption]:
        session = self._sessions.get(session_id)
        return options_for(session, self._choices_of(session), self.catalog)

    def set_config_option(self, session_id: str, config_id: str, value: str | bool) -> list[ConfigOption]:
        """Change one option; raises `BadRequest` (unknown option or value), `SessionBusy` (model mid-turn)."""
        session = self._sessions.get(session_id)
        choices = self._choices_of(session)
        if config_id == MODE:
            session.set_mode(text_value(config_id, value))
            self._keeper.chose(session.id, "mode", session.mode_id)
        elif config_id == THINKING:
            choices.thinking = thinking_value(value)
            self._keeper.chose(session.id, "thinking", "on" if choices.thinking else "off")
        elif config_id == MODEL:
            spec = self.catalog.spec_of(text_value(config_id, value))
            if spec is None:
                names = ", ".join(v for v, _ in self.catalog.choices())
                raise BadRequest(f"unknown model {quoted(str(value))}; choose one of {names}")
            if spec != choices.model_spec:
                if session.busy:
                    raise SessionBusy("the model cannot change while a prompt runs; cancel it or wait")
                # The old model's per-session state (its KV cache) is of no use to the new one.
                self.catalog.backend(choices.model_spec).forget_session(session.id)
                choices.model_spec = spec
                self._keeper.chose(session.id, "model", spec)
                self.catalog.backend(spec).start_loading()
        else:
            raise unknown_option(config_id)
        return options_for(session, choices, self.catalog)

    def context_usage(self, session_id: str) -> tuple[int, int]:
        """(tokens the session's history takes, the model's context size)."""
        session = self._sessions.get(session_id)
        used = self._used.get(session_id)
        if used is None:
            from punie_acp.core import compaction  # loaded: a session with history had a turn or a load

            used = compaction.context_used(session.history)
        return used, session.settings.context_tokens

    def session_choices(self, session_id: str) -> SessionChoices:
        """The session's model and thinking choices, to save with it and restore (session/load)."""
        return self._choices_of(self._sessions.get(session_id))

    def _choices_of(self, session: Session) -> SessionChoices:
        return self._choices.setdefault(session.id, SessionChoices(self.catalog.default_spec))

    def _backend_of(self, session: Session) -> ModelBackend:
        return self.catalog.backend(self._choices_of(session).model_spec)

    # Saved sessions (core/archive.py) -----------------------------------------------------

    async def check_store(self) -> None:
        """Wait until what was recorded so far is saved; raise `StoreUnavailable` (the file and what
        to do) when sessions cannot be kept."""
        await self._archive.check()

    async def load_session(
        self, session_id: str, cwd: str, host_for: Callable[[str], EditorHost]
    ) -> tuple[Session, list[StoredItem]]:
        """Open a saved session again; returns it with its transcript, to be replayed in order."""
        session = await self.resume_session(session_id, cwd, host_for)
        return session, await self._archive.transcript(session.id)

    async def resume_session(self, session_id: str, cwd: str, host_for: Callable[[str], EditorHost]) -> Session:
        """Open a saved session again without replaying it."""
        await self.turn_modules_ready()  # its history is PydanticAI messages
        session = await self._archive.reopen(session_id, cwd, host_for)
        self._backend_of(session).start_loading()
        return session

    async def list_sessions(self, cwd: str | None, cursor: str | None, limit: int | None = None) -> Page:
        return await self._archive.page(cwd, cursor, limit)

    async def delete_session(self, session_id: str) -> None:
        """Close it if open, then remove it and everything kept for it."""
        await self._archive.delete(session_id)

    def _restore_choices(self, session: Session, saved: dict[str, str]) -> None:
        """The model and thinking the session had chosen, where this server still offers them."""
        choices = self._choices_of(session)
        if saved.get("model") in self.catalog.specs:
            choices.model_spec = saved["model"]
        if saved.get("thinking") in ("on", "off"):
            choices.thinking = saved["thinking"] == "on"

    # Turns ------------------------------------------------------------------------------

    async def run_turn(
        self,
        session_id: str,
        prompt: str,
        emit: Emit,
        on_titled: Callable[[str], Awaitable[None]] | None = None,
    ) -> TurnEnded:
        """Run one prompt to its end; events go to `emit` in order.

        The session's first prompt titles it: `on_titled(title)` runs before the model starts.
        Returns how the turn ended (`cancelled` after `cancel()`); raises `SessionNotFound`,
        `SessionBusy`, `ModelUnavailable` or `TurnFailed`.
        """
        session = self._sessions.get(session_id)
        scope = anyio.CancelScope()
        session.begin_turn(scope)
        self._sessions.touch(session)
        events = TurnEvents(emit, scope, session.id, record=self._keeper.record)
        ended: TurnEnded | None = None
        failure: CoreError | None = None
        try:
            with scope:
                try:
                    title = self._keeper.named(session, prompt)
                    self._keeper.prompted(session, prompt)
                    if title is not None and on_titled is not None:
                        await on_titled(title)
                    ended = await self._turn(session, prompt, events)
                except Exception as exc:
                    failure = self._failure(exc, session)
            if failure is not None:
                await events.close_open_calls(f"not finished: {failure}")
            elif ended is None or ended.stop_reason == "cancelled" or session.cancel_requested:
                await events.close_open_calls("cancelled")
            else:
                await events.close_open_calls(f"not finished: the turn ended ({ended.stop_reason})")
        finally:
            session.end_turn()
            if self.turns.preload.done:  # else the turn never reached the model: the history is unchanged
                self._keeper.save_history(session)
            self._sessions.touch(session)
        await self._archive.saved(session)
        if failure is not None:
            raise failure
        if ended is None or session.cancel_requested or events.face_gone:
            return TurnEnded("cancelled")
        return ended

    async def _turn(self, session: Session, prompt: str, events: TurnEvents) -> TurnEnded:
        """A slash command or a prompt, on the session's model, with its history kept inside the context."""
        await self.turn_modules_ready()
        backend = self._backend_of(session)
        invocation = commands.parse(prompt)
        if invocation is not None:
            problem = commands.missing_argument(invocation)
            if problem is not None:
                await events.emit(TextDelta(problem))
                return TurnEnded("end_turn")
        await backend.ensure_ready(events.progress)
        choices = self._choices_of(session)
        extra: ModelSettings = {} if choices.thinking else {"thinking": False}
        forced = invocation is not None and invocation.command.name == "compact"
        await self._compact(session, backend, extra, events, forced=forced)
        if forced:
            return TurnEnded("end_turn")
        if invocation is not None and invocation.prompt is not None:
            prompt = invocation.prompt
        mcp = self._mcp.get(session.id)
        self._used.pop(session.id, None)
        ended = await self.turns.runner().run(
            session,
            prompt,
            events.emit,
            model=backend.model_for(session.id),
            extra_settings=extra,
            toolsets=mcp.toolsets if mcp is not None else (),
        )
        from punie_acp.core import compaction

        self._used[session.id] = compaction.context_used(session.history)
        return ended

    async def _compact(
        self, session: Session, backend: ModelBackend, extra: ModelSettings, events: TurnEvents, *, forced: bool
    ) -> None:
        from punie_acp.core import compaction

        size = session.settings.context_tokens
        if not forced and not compaction.needs_compaction(session.history, size):
            return
        settings: ModelSettings = {**generation_settings(session.settings), **extra, "thinking": False}
        result = await compaction.compact(session.history, size, backend.model_for(session.id), settings, forced=forced)
        if result is None:
            if forced:
                await events.emit(TextDelta("Nothing to compact yet: the conversation is short."))
            return
        session.history = result.history
        self._used[session.id] = compaction.estimate_tokens(result.history)
        log.info("session %s: %s", session.id, result.notice.strip())
        await events.emit(TextDelta(result.notice))

    def _failure(self, error: Exception, session: Session) -> CoreError:
        cause = _sole_cause(error)
        if isinstance(cause, CoreError):
            return cause
        if isinstance(cause, ModelNotAvailable):
            log.info("session %s: model not available: %s", session.id, cause, exc_info=cause)
            return ModelUnavailable(str(cause))
        explained = explain_model_failure(cause, self._backend_of(session).name)
        if explained is not None:
            log.info("session %s: model failed: %s", session.id, explained, exc_info=cause)
            return ModelUnavailable(explained)
        log.error("session %s: the turn failed unexpectedly", session.id, exc_info=error)
        where = self._settings.log_file or "the log file"
        summary = f"{type(cause).__name__}: {cause}".splitlines()[0][:300]
        return TurnFailed(f"the turn failed unexpectedly ({summary}); the details are in {where}")


def _sole_cause(error: BaseException) -> BaseException:
    """The one exception inside nested exception groups (task groups wrap what they raise)."""
    while isinstance(error, BaseExceptionGroup) and len(error.exceptions) == 1:
        error = error.exceptions[0]
    return error
