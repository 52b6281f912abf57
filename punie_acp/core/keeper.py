"""What the core keeps of each session in the store, and how a session is brought back from it.

The core's event flow feeds the store (`record`), not the protocol face: whatever face runs the
turn, the transcript is the same. Writes are queued (`SessionStore` never blocks the loop).
"""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING

from pydantic import ValidationError

from punie_acp.core.events import Event, ToolFinished, ToolStarted, TurnEnded, UsageReported
from punie_acp.core.session import Session
from punie_acp.store import Choice, SessionRecord, SessionStore, StoredItem, TitleSet, UserPrompt
from punie_acp.workspace.text import shown_text

if TYPE_CHECKING:  # PydanticAI is imported once a session exists (core/preload.py)
    from pydantic_ai.messages import ModelMessage

log = logging.getLogger(__name__)

TITLE_CHARS = 80
INTERRUPTED = "not finished: the server stopped before this call ended"


def title_of(prompt: str) -> str | None:
    """The first non-empty line of the first prompt, cut to `TITLE_CHARS`; control and invisible
    format characters (a right-to-left override in a session list) are shown escaped."""
    line = next((ln.strip() for ln in prompt.splitlines() if ln.strip()), "")
    if not line:
        return None
    return shown_text(line[:TITLE_CHARS], TITLE_CHARS)


class SessionKeeper:
    def __init__(self, store: SessionStore) -> None:
        self.store = store

    def created(self, session: Session) -> None:
        self.store.create(
            SessionRecord(
                id=session.id,
                cwd=str(session.root),
                created_at=session.updated_at,
                updated_at=session.updated_at,
                choices={"mode": session.mode_id},
            )
        )

    def named(self, session: Session, prompt: str) -> str | None:
        """Title an untitled session from this prompt; returns the new title, if it got one."""
        if session.title is not None:
            return None
        title = title_of(prompt)
        if title is not None:
            session.title = title
            self.store.set_title(session.id, title)
            self.store.append(session.id, TitleSet(title))
        return title

    def prompted(self, session: Session, prompt: str) -> None:
        self.store.append(session.id, UserPrompt(prompt))

    def record(self, session_id: str, event: Event) -> None:
        if not isinstance(event, UsageReported | TurnEnded):  # shown in the response, not the transcript
            self.store.append(session_id, event)

    def chose(self, session_id: str, key: str, value: str) -> None:
        self.store.append(session_id, Choice(key, value))

    def save_history(self, session: Session) -> None:
        try:
            self.store.save_history(session.id, dump_history(session.history))
        except Exception:  # never fails the turn: the transcript is kept, only the model's memory is not
            log.exception("session %s: its model history could not be saved", session.id)

    async def transcript(self, session_id: str) -> list[StoredItem]:
        """The stored items, with tool calls a killed server left open closed as failed."""
        items = await self.store.items(session_id)
        out: list[StoredItem] = []
        open_calls: dict[str, None] = {}
        for item in items:
            if isinstance(item, UserPrompt):
                out.extend(_close(open_calls))
            elif isinstance(item, ToolStarted):
                open_calls[item.call_id] = None
            elif isinstance(item, ToolFinished):
                open_calls.pop(item.call_id, None)
            out.append(item)
        out.extend(_close(open_calls))
        return out

    async def history(self, session_id: str) -> list[ModelMessage]:
        raw = await self.store.history(session_id)
        if raw is None:
            return []
        try:
            return load_history(raw)
        except (ValidationError, ValueError) as exc:
            # Written by another PydanticAI version: the transcript still replays; the model starts afresh.
            log.warning("session %s: its model history could not be read (%s); continuing without it", session_id, exc)
            return []


def dump_history(history: list[ModelMessage]) -> bytes:
    """PydanticAI's JSON form of the history, as ASCII: a lone surrogate a client sent in a prompt
    (valid JSON, not valid UTF-8) is kept as an escape instead of failing the save."""
    from pydantic_ai.messages import ModelMessagesTypeAdapter  # loaded before a turn (core/preload.py)

    return json.dumps(ModelMessagesTypeAdapter.dump_python(history, mode="json"), ensure_ascii=True).encode()


def load_history(raw: bytes) -> list[ModelMessage]:
    from pydantic_ai.messages import ModelMessagesTypeAdapter

    return list(ModelMessagesTypeAdapter.validate_python(json.loads(raw)))


def _close(open_calls: dict[str, None]) -> list[StoredItem]:
    closed: list[StoredItem] = [ToolFinished(call_id, ok=False, raw_output=INTERRUPTED) for call_id in open_calls]
    open_calls.clear()
    return closed
