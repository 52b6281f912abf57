"""Sessions kept across restarts, as the front door sees them: reopen, list, delete, wait until saved.

`CoreService` delegates here; the recording itself is `keeper.py`, the storage `punie_acp.store`.
A store that cannot be used surfaces as `StoreUnavailable` (one line: the file and what to do).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

from punie_acp.core.errors import BadRequest, SessionNotFound, StoreUnavailable
from punie_acp.core.host import EditorHost
from punie_acp.core.keeper import SessionKeeper
from punie_acp.core.modes import MODES
from punie_acp.core.session import Session, SessionManager, quoted, validate_root
from punie_acp.store import Page, StoredItem
from punie_acp.store import StoreUnavailable as StoreFailure

log = logging.getLogger(__name__)
_T = TypeVar("_T")

# Called with a reopened session and the choices saved with it (model, thinking, ...).
Restore = Callable[[Session, dict[str, str]], None]


class SessionArchive:
    def __init__(self, keeper: SessionKeeper, sessions: SessionManager, restore: Restore) -> None:
        self._keeper = keeper
        self._sessions = sessions
        self._restore = restore

    async def check(self) -> None:
        """Wait until what was recorded so far is saved; `StoreUnavailable` when sessions cannot be kept."""
        await _stored(self._keeper.store.check())

    async def saved(self, session: Session) -> None:
        """Until the turn is saved: once the face answers, a killed server cannot lose it."""
        try:
            await self._keeper.store.check()
        except StoreFailure as exc:
            log.warning("session %s: the turn could not be saved: %s", session.id, exc)

    async def transcript(self, session_id: str) -> list[StoredItem]:
        return await _stored(self._keeper.transcript(session_id))

    async def page(self, cwd: str | None, cursor: str | None, limit: int | None = None) -> Page:
        try:
            return await _stored(self._keeper.store.page(cwd, cursor, *([limit] if limit else [])))
        except ValueError as exc:
            raise BadRequest(str(exc)) from None

    async def delete(self, session_id: str) -> None:
        """Close it if open, then remove it and everything kept for it."""
        self._sessions.close(session_id)
        if not await _stored(self._keeper.store.delete(session_id)):
            raise SessionNotFound(f"unknown session {quoted(session_id)}: there is no saved session with this id")

    async def reopen(self, session_id: str, cwd: str, host_for: Callable[[str], EditorHost]) -> Session:
        """The saved session as an open one (the same object when it is open already)."""
        record = await _stored(self._keeper.store.get(session_id))
        if record is None:
            raise SessionNotFound(f"unknown session {quoted(session_id)}: there is no saved session with this id")
        root = validate_root(cwd)
        if not _same_directory(root, Path(record.cwd)):
            raise BadRequest(f"session {session_id} belongs to {record.cwd}, not {quoted(cwd)}")
        history = await self._keeper.history(session_id)
        session = self._sessions.find(session_id)  # checked after the awaits: a second load reuses the first
        if session is None:
            session = self._sessions.create(cwd, host_for, session_id=session_id)
            session.history = history
            session.title = record.title
            mode = record.choices.get("mode")
            if mode in MODES:
                session.mode_id = mode
            self._restore(session, record.choices)
            session.updated_at = record.updated_at
        return session


async def _stored(read: Awaitable[_T]) -> _T:
    try:
        return await read
    except StoreFailure as exc:
        raise StoreUnavailable(str(exc)) from None


def _same_directory(a: Path, b: Path) -> bool:
    try:
        return a == b or a.resolve() == b.resolve()
    except OSError:
        return False
