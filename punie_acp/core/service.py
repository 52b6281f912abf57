"""The core's front door: open and close sessions, run a turn with its whole lifecycle.

Every face goes through `CoreService`: the ACP agent (`acp/agent.py`), `punie ask`
(`headless.py`) and the test harnesses. It owns what a face must not re-implement:

- a turn's cancel scope (`cancel()` stops model and tools; a closed session stops its turn),
- waiting for the model to load, with progress shown as thought text,
- closing tool calls left open when a turn stops early, so no editor shows one spinning,
- ending the turn when the face stops taking events (an editor gone mid-turn),
- turning failures into `CoreError`s with one line a person can act on; the traceback of an
  unexpected one goes to the log file,
- dropping the backend's per-session state (a KV cache) whenever a session closes.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

import anyio
import anyio.lowlevel

from punie_acp.config import Settings
from punie_acp.core import lifecycle
from punie_acp.core.context import Emit
from punie_acp.core.errors import CoreError, ModelUnavailable, TurnFailed
from punie_acp.core.events import Event, ThoughtDelta, ToolFinished, ToolStarted, TurnEnded
from punie_acp.core.host import EditorHost
from punie_acp.core.session import Session, SessionManager
from punie_acp.core.tooling import AgentTool
from punie_acp.core.turn import TurnRunner
from punie_acp.models.base import ModelBackend, ModelNotAvailable
from punie_acp.models.failures import explain_model_failure

log = logging.getLogger(__name__)


class CoreService:
    def __init__(self, backend: ModelBackend, settings: Settings, tools: Sequence[AgentTool]) -> None:
        self._backend = backend
        self._settings = settings
        self._runner = TurnRunner(backend, tools)
        self._sessions = SessionManager(settings, on_close=self._forget)

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
        self._backend.start_loading()
        return session

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
        return session

    def cancel(self, session_id: str) -> None:
        """Stop the session's running turn; a no-op when idle or unknown (cancel is a notification)."""
        session = self._sessions.find(session_id)
        if session is not None:
            session.cancel()

    async def aclose(self) -> None:
        self._sessions.close_all()
        await lifecycle.shutdown()  # language servers: shutdown/exit, then stopped
        await self._backend.aclose()

    def _forget(self, session: Session) -> None:
        self._backend.forget_session(session.id)
        lifecycle.session_closed(session.id, session.root)  # its project's language servers may stop

    # Turns ------------------------------------------------------------------------------

    async def run_turn(self, session_id: str, prompt: str, emit: Emit) -> TurnEnded:
        """Run one prompt to its end; events go to `emit` in order.

        Returns how the turn ended (`cancelled` after `cancel()`); raises `SessionNotFound`,
        `SessionBusy`, `ModelUnavailable` or `TurnFailed`.
        """
        session = self._sessions.get(session_id)
        scope = anyio.CancelScope()
        session.begin_turn(scope)
        self._sessions.touch(session)
        events = _TurnEvents(emit, scope, session.id)
        ended: TurnEnded | None = None
        failure: CoreError | None = None
        try:
            with scope:
                try:
                    await self._backend.ensure_ready(events.progress)
                    ended = await self._runner.run(session, prompt, events.emit)
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
            self._sessions.touch(session)
        if failure is not None:
            raise failure
        if ended is None or session.cancel_requested or events.face_gone:
            return TurnEnded("cancelled")
        return ended

    def _failure(self, error: Exception, session: Session) -> CoreError:
        cause = _sole_cause(error)
        if isinstance(cause, CoreError):
            return cause
        if isinstance(cause, ModelNotAvailable):
            log.info("session %s: model not available: %s", session.id, cause, exc_info=cause)
            return ModelUnavailable(str(cause))
        explained = explain_model_failure(cause, self._backend.name)
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


class _TurnEvents:
    """The turn's emit, watched: which tool calls are still open, and whether the face still listens."""

    def __init__(self, emit: Emit, scope: anyio.CancelScope, session_id: str) -> None:
        self._emit = emit
        self._scope = scope
        self._session_id = session_id
        self._open: dict[str, None] = {}  # insertion-ordered set of call ids
        self.face_gone = False

    async def progress(self, text: str) -> None:
        await self.emit(ThoughtDelta(text + "\n"))

    async def emit(self, event: Event) -> None:
        if isinstance(event, ToolStarted):
            self._open[event.call_id] = None
        elif isinstance(event, ToolFinished):
            self._open.pop(event.call_id, None)
        if self.face_gone:
            await anyio.lowlevel.checkpoint()  # the turn is being cancelled: stop here
            return
        try:
            await self._emit(event)
        except Exception as exc:
            # Nobody is listening any more (an editor gone, a closed pipe): the work so far
            # stays in the session's history, running tools are stopped, nothing is left half-sent.
            log.info("session %s: the client stopped taking updates (%s); stopping the turn", self._session_id, exc)
            self.face_gone = True
            self._scope.cancel()
            await anyio.lowlevel.checkpoint()  # raises the cancellation right here

    async def close_open_calls(self, reason: str) -> None:
        """Fail every tool call that started but never finished (cancelled or broken turn)."""
        open_calls, self._open = list(self._open), {}
        if self.face_gone:
            return
        for call_id in open_calls:
            try:
                await self._emit(ToolFinished(call_id, ok=False, raw_output=reason))
            except Exception:
                log.info("session %s: could not close tool call %s", self._session_id, call_id, exc_info=True)
                return
