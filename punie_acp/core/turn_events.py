"""A turn's event stream as the front door watches it: open tool calls, and whether the face still listens."""

from __future__ import annotations

import logging
from collections.abc import Callable

import anyio
import anyio.lowlevel

from punie_acp.core.context import Emit
from punie_acp.core.events import Event, ThoughtDelta, ToolFinished, ToolStarted

log = logging.getLogger(__name__)


class TurnEvents:
    """The turn's emit, watched: which tool calls are still open, and whether the face still listens.

    Every event is recorded (`record`) before it goes to the face, whether the face still listens or not.
    """

    def __init__(
        self, emit: Emit, scope: anyio.CancelScope, session_id: str, record: Callable[[str, Event], None]
    ) -> None:
        self._emit = emit
        self._record = record
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
        self._record(self._session_id, event)
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
        closing = [ToolFinished(call_id, ok=False, raw_output=reason) for call_id in open_calls]
        for event in closing:
            self._record(self._session_id, event)
        if self.face_gone:
            return
        for event in closing:
            call_id = event.call_id
            try:
                await self._emit(event)
            except Exception:
                log.info("session %s: could not close tool call %s", self._session_id, call_id, exc_info=True)
                return
