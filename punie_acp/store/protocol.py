"""What the core needs from a session store, and what it keeps.

Writes (`create`, `append`, `set_title`, `save_history`) are queued and return at once: they are
applied in the order they were made, so a turn never waits on the disk. Reads wait for every
write queued before them. A store that cannot be used raises `StoreUnavailable` (one line that
says which file and what to do) from every read; writes to it are dropped and logged.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from punie_acp.core.events import Event

# Sessions per `session/list` page unless the caller asks for fewer.
PAGE_SIZE = 50


class StoreUnavailable(Exception):
    """The store cannot be read or written (damaged, from a newer punie, not writable)."""


@dataclass(frozen=True)
class UserPrompt:
    """What the user sent, as the turn received it."""

    text: str


@dataclass(frozen=True)
class Choice:
    """A session setting the user chose (`mode`, a config option), in the order it happened."""

    key: str
    value: str


@dataclass(frozen=True)
class TitleSet:
    """The session's title, from its first prompt (shown to the editor as `session_info_update`)."""

    title: str


StoredItem = UserPrompt | Choice | TitleSet | Event


@dataclass(frozen=True)
class SessionRecord:
    id: str
    cwd: str
    created_at: datetime
    updated_at: datetime
    title: str | None = None
    choices: dict[str, str] = field(default_factory=dict)  # the latest value of each Choice


@dataclass(frozen=True)
class Page:
    sessions: list[SessionRecord]
    next_cursor: str | None = None


class SessionStore(Protocol):
    # Writes: queued, ordered, never blocking ------------------------------------------

    def create(self, record: SessionRecord) -> None: ...

    def append(self, session_id: str, item: StoredItem) -> None:
        """Add to the session's transcript (and bump its `updated_at`)."""
        ...

    def set_title(self, session_id: str, title: str) -> None: ...

    def save_history(self, session_id: str, history: bytes) -> None:
        """The model's message history (PydanticAI's JSON), replacing the previous one."""
        ...

    # Reads: after every write queued before them ----------------------------------------

    async def get(self, session_id: str) -> SessionRecord | None: ...

    async def items(self, session_id: str) -> list[StoredItem]: ...

    async def history(self, session_id: str) -> bytes | None: ...

    async def page(self, cwd: str | None, cursor: str | None, limit: int = PAGE_SIZE) -> Page:
        """Sessions, most recently updated first; `cursor` comes from the previous page.

        Raises `ValueError` for a cursor this store did not make.
        """
        ...

    async def delete(self, session_id: str) -> bool:
        """Remove the session and everything kept for it; False when there was none."""
        ...

    async def check(self) -> None:
        """Wait until every write queued so far is saved; raise `StoreUnavailable` when the store
        cannot be used (so an answer sent after it never refers to what a crash could still lose)."""
        ...

    async def aclose(self) -> None:
        """Apply every queued write, then close."""
        ...
