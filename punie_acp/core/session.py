"""A session: one project root, its conversation, mode and permission memory; and the open-session store."""

from __future__ import annotations

import os
import uuid
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

import anyio

from punie_acp.config import Settings, SettingsError
from punie_acp.core.errors import BadRequest, SessionBusy, SessionNotFound, TooManySessions
from punie_acp.core.host import EditorHost
from punie_acp.core.modes import DEFAULT_MODE, MODES, Mode
from punie_acp.workspace.root import Workspace

if TYPE_CHECKING:  # PydanticAI is not imported to open a session (see core/preload.py)
    from pydantic_ai.messages import ModelMessage

    from punie_acp.core.permissions import PermissionGate

# Ids of sessions closed to make room, remembered so a late prompt to one gets a clear message.
_EVICTED_MEMORY = 256


@dataclass
class Session:
    id: str
    workspace: Workspace
    settings: Settings
    host: EditorHost
    mode_id: str = DEFAULT_MODE
    history: list[ModelMessage] = field(default_factory=list)
    title: str | None = None
    updated_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    _scope: anyio.CancelScope | None = None
    _cancel_requested: bool = False

    @cached_property
    def permissions(self) -> PermissionGate:
        # Made on first use (a turn's tools), when PydanticAI, whose `ToolFailed` it raises, is loaded.
        from punie_acp.core.permissions import PermissionGate

        return PermissionGate(self.host, lambda: self.mode)

    @property
    def root(self) -> Path:
        return self.workspace.root

    @property
    def mode(self) -> Mode:
        return MODES[self.mode_id]

    def set_mode(self, mode_id: str) -> None:
        if mode_id not in MODES:
            raise BadRequest(f"unknown mode {quoted(mode_id)}; choose one of {', '.join(MODES)}")
        self.mode_id = mode_id

    @property
    def busy(self) -> bool:
        return self._scope is not None

    def begin_turn(self, scope: anyio.CancelScope) -> None:
        if self._scope is not None:
            raise SessionBusy(f"session {self.id} is already running a prompt; cancel it first")
        self._scope = scope
        self._cancel_requested = False

    def end_turn(self) -> None:
        self._scope = None
        self.updated_at = datetime.now(UTC)

    def cancel(self) -> None:
        """Stop the running turn (model and tools); a no-op when idle."""
        if self._scope is not None:
            self._cancel_requested = True
            self._scope.cancel()

    @property
    def cancel_requested(self) -> bool:
        return self._cancel_requested


class SessionManager:
    """The open sessions, at most `settings.max_open_sessions` of them.

    When full, opening one more closes the least recently used idle session (never a busy
    one); when every session is busy, opening is refused. `on_close` runs for every session
    that closes, however it closes, so per-session state elsewhere (a model's KV cache) goes
    with it.
    """

    def __init__(self, settings: Settings, on_close: Callable[[Session], None] | None = None) -> None:
        self._settings = settings
        self._on_close = on_close
        # Least recently used first; `touch` moves a session to the end.
        self._sessions: OrderedDict[str, Session] = OrderedDict()
        self._evicted: OrderedDict[str, None] = OrderedDict()

    @property
    def max_open(self) -> int:
        return max(1, self._settings.max_open_sessions)

    def create(self, cwd: str, host_for: Callable[[str], EditorHost], session_id: str | None = None) -> Session:
        """A new open session (`session_id`: one brought back from the store, else a fresh id)."""
        root = validate_root(cwd)
        try:
            settings = self._settings.for_project(root)
        except SettingsError as exc:  # a bad [tool.punie]: session/new fails with the one line (file and key named)
            raise BadRequest(str(exc)) from None
        self._make_room()
        session_id = session_id or new_session_id()
        self._evicted.pop(session_id, None)
        session = Session(
            id=session_id,
            workspace=Workspace(root),
            settings=settings,
            host=host_for(session_id),
            mode_id=settings.mode if settings.mode in MODES else DEFAULT_MODE,
        )
        self._sessions[session.id] = session
        return session

    def get(self, session_id: str) -> Session:
        session = self._sessions.get(session_id)
        if session is not None:
            return session
        if session_id in self._evicted:
            raise SessionNotFound(
                f"session {session_id} was closed to make room (at most {self.max_open} sessions stay open); "
                "load it again (session/load) or start a new session"
            )
        raise SessionNotFound(
            f"unknown session {quoted(session_id)}: it is not open (a saved session is reopened with session/load)"
        )

    def find(self, session_id: str) -> Session | None:
        return self._sessions.get(session_id)

    def touch(self, session: Session) -> None:
        """Mark a session as just used (the last to be closed to make room)."""
        if session.id in self._sessions:
            self._sessions.move_to_end(session.id)

    def close(self, session_id: str) -> Session | None:
        session = self._sessions.pop(session_id, None)
        if session is not None:
            session.cancel()
            session.workspace.close()  # stops the file index's watcher
            if self._on_close is not None:
                self._on_close(session)
        return session

    def close_all(self) -> None:
        for session_id in list(self._sessions):
            self.close(session_id)

    def all(self) -> list[Session]:
        return list(self._sessions.values())

    def _make_room(self) -> None:
        while len(self._sessions) >= self.max_open:
            idle = next((s for s in self._sessions.values() if not s.busy), None)
            if idle is None:
                raise TooManySessions(
                    f"all {len(self._sessions)} open sessions are running a prompt (at most {self.max_open} "
                    "stay open); wait for one to finish or close one"
                )
            self.close(idle.id)
            self._evicted[idle.id] = None
            while len(self._evicted) > _EVICTED_MEMORY:
                self._evicted.popitem(last=False)


def new_session_id() -> str:
    return uuid.uuid4().hex


def quoted(value: str, limit: int = 200) -> str:
    """A client-supplied value as shown in an error message: quoted, and short however long it was."""
    return repr(value if len(value) <= limit else value[:limit] + "…")


def validate_root(cwd: str) -> Path:
    if not cwd:
        raise BadRequest("cwd is required: the absolute path of the project to work in")
    if "\x00" in cwd:
        raise BadRequest("cwd must be an absolute path; this one contains a NUL character")
    path = Path(cwd)
    if not path.is_absolute():
        raise BadRequest(f"cwd must be an absolute path, got {quoted(cwd)}")
    try:
        exists, is_dir = path.exists(), path.is_dir()
    except OSError as exc:  # too long, a loop of symlinks, …
        raise BadRequest(f"cwd {quoted(cwd)} cannot be used: {exc.strerror or exc}") from None
    if not exists:
        raise BadRequest(f"cwd {quoted(cwd)} does not exist")
    if not is_dir:
        raise BadRequest(f"cwd {quoted(cwd)} is not a directory")
    if not os.access(path, os.R_OK | os.X_OK):
        raise BadRequest(f"cwd {quoted(cwd)} is not readable")
    return path
