"""`MemoryStore`: the session store kept in this process only (tests, `punie ask`, `--session-store none`)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from punie_acp.store.cursor import make_cursor, read_cursor
from punie_acp.store.protocol import PAGE_SIZE, Choice, Page, SessionRecord, StoredItem


class MemoryStore:
    def __init__(self) -> None:
        self._records: dict[str, SessionRecord] = {}
        self._items: dict[str, list[StoredItem]] = {}
        self._history: dict[str, bytes] = {}

    def create(self, record: SessionRecord) -> None:
        self._records[record.id] = record
        self._items.setdefault(record.id, [])

    def append(self, session_id: str, item: StoredItem) -> None:
        record = self._records.get(session_id)
        if record is None:
            return
        self._items[session_id].append(item)
        choices = {**record.choices, item.key: item.value} if isinstance(item, Choice) else record.choices
        self._records[session_id] = replace(record, updated_at=datetime.now(UTC), choices=choices)

    def set_title(self, session_id: str, title: str) -> None:
        record = self._records.get(session_id)
        if record is not None:
            self._records[session_id] = replace(record, title=title)

    def save_history(self, session_id: str, history: bytes) -> None:
        if session_id in self._records:
            self._history[session_id] = history

    async def get(self, session_id: str) -> SessionRecord | None:
        return self._records.get(session_id)

    async def items(self, session_id: str) -> list[StoredItem]:
        return list(self._items.get(session_id, []))

    async def history(self, session_id: str) -> bytes | None:
        return self._history.get(session_id)

    async def page(self, cwd: str | None, cursor: str | None, limit: int = PAGE_SIZE) -> Page:
        records = sorted(
            (r for r in self._records.values() if cwd is None or r.cwd == cwd),
            key=lambda r: (r.updated_at, r.id),
            reverse=True,
        )
        if cursor is not None:
            after = read_cursor(cursor)
            records = [r for r in records if (r.updated_at, r.id) < after]
        limit = max(1, limit)
        shown, more = records[:limit], len(records) > limit
        last = shown[-1] if shown and more else None
        return Page(shown, make_cursor(last.updated_at, last.id) if last is not None else None)

    async def delete(self, session_id: str) -> bool:
        self._items.pop(session_id, None)
        self._history.pop(session_id, None)
        return self._records.pop(session_id, None) is not None

    async def check(self) -> None:
        return None

    async def aclose(self) -> None:
        return None
