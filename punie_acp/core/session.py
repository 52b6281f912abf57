"""A session: one project root, its conversation, mode and permission memory."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import anyio
from pydantic_ai.messages import ModelMessage

from punie_acp.config import Settings, SettingsError
from punie_acp.core.host import EditorHost
from punie_acp.core.modes import DEFAULT_MODE, MODES, Mode
from punie_acp.core.permissions import PermissionGate
from punie_acp.workspace.root import Workspace


class SessionError(ValueError):
    """A session request that cannot be honoured; the message is for a person."""


class TurnInProgress(SessionError):
    pass


@dataclass
class Session:
    id: str
    workspace: Workspace
    settings: Settings
    host: EditorHost
    mode_id: str = DEFAULT_MODE
    history: list[ModelMessage] = field(default_factory=list)
    updated_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    _scope: anyio.CancelScope | None = None
    _cancel_requested: bool = False

    def __post_init__(self) -> None:
        self.permissions = PermissionGate(self.host, lambda: self.mode)

    @property
    def root(self) -> Path:
        return self.workspace.root

    @property
    def mode(self) -> Mode:
        return MODES[self.mode_id]

    def set_mode(self, mode_id: str) -> None:
        if mode_id not in MODES:
            raise SessionError(f"unknown mode {mode_id!r}; choose one of {', '.join(MODES)}")
        self.mode_id = mode_id

    @property
    def busy(self) -> bool:
        return self._scope is not None

    def begin_turn(self, scope: anyio.CancelScope) -> None:
        if self._scope is not None:
            raise TurnInProgress(f"session {self.id} is already running a prompt; cancel it first")
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
    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._sessions: dict[str, Session] = {}

    def create(self, cwd: str, host_for: Callable[[str], EditorHost]) -> Session:
        root = validate_root(cwd)
        try:
            settings = self._settings.for_project(root)
        except SettingsError as exc:  # a bad [tool.punie]: session/new fails with the one line
            raise SessionError(str(exc)) from None
        session_id = uuid.uuid4().hex
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
        try:
            return self._sessions[session_id]
        except KeyError:
            raise SessionError(f"unknown session {session_id!r}") from None

    def find(self, session_id: str) -> Session | None:
        return self._sessions.get(session_id)

    def close(self, session_id: str) -> Session | None:
        session = self._sessions.pop(session_id, None)
        if session is not None:
            session.cancel()
            session.workspace.close()  # stops the file index's watcher
        return session

    def all(self) -> list[Session]:
        return list(self._sessions.values())


def validate_root(cwd: str) -> Path:
    if not cwd:
        raise SessionError("cwd is required: the absolute path of the project to work in")
    path = Path(cwd)
    if not path.is_absolute():
        raise SessionError(f"cwd must be an absolute path, got {cwd!r}")
    if not path.exists():
        raise SessionError(f"cwd {cwd!r} does not exist")
    if not path.is_dir():
        raise SessionError(f"cwd {cwd!r} is not a directory")
    if not os.access(path, os.R_OK | os.X_OK):
        raise SessionError(f"cwd {cwd!r} is not readable")
    return path
