"""Which saved sessions to export: by project, by when they started, only those marked good.

Marking is a choice kept with the session (`export` = `good`), like its mode or model: no new
column, so stores written by older punie versions need no migration, and an older punie that
reads the store ignores it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from punie_acp.store import Choice, SessionRecord, SessionStore

GOOD_KEY, GOOD = "export", "good"


@dataclass(frozen=True)
class Filters:
    project: str | None = None
    since: datetime | None = None  # started at or after
    until: datetime | None = None  # started before
    good_only: bool = False

    def admits(self, record: SessionRecord) -> bool:
        if self.project is not None and not _same_path(record.cwd, self.project):
            return False
        if self.since is not None and record.created_at < self.since:
            return False
        if self.until is not None and record.created_at >= self.until:
            return False
        return not self.good_only or is_good(record)


def is_good(record: SessionRecord) -> bool:
    return record.choices.get(GOOD_KEY) == GOOD


def parse_day(text: str, *, end: bool = False) -> datetime:
    """`YYYY-MM-DD` (local midnight; with `end`, the midnight after, so `--until` includes the day)
    or an ISO date-time; ValueError saying what is expected."""
    try:
        if len(text) == 10:
            day = date.fromisoformat(text) + timedelta(days=1 if end else 0)
            return datetime.combine(day, time()).astimezone()
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{text!r} is not a date: use YYYY-MM-DD or YYYY-MM-DDTHH:MM") from None
    return moment if moment.tzinfo else moment.astimezone()


async def matching(store: SessionStore, filters: Filters) -> list[SessionRecord]:
    """Every saved session the filters admit, oldest first."""
    records: list[SessionRecord] = []
    cursor: str | None = None
    while True:
        # All sessions, filtered here: the store keeps the path the editor sent, and the user may
        # name the same directory another way (a symlink, a trailing slash).
        page = await store.page(None, cursor, limit=200)
        records += [r for r in page.sessions if filters.admits(r)]
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    return sorted(records, key=lambda r: (r.created_at, r.id))


async def mark(store: SessionStore, session_id: str, good: bool) -> SessionRecord | None:
    """Mark (or unmark) a saved session as good; None when there is no such session."""
    record = await store.get(session_id)
    if record is None:
        return None
    store.append(session_id, Choice(GOOD_KEY, GOOD if good else ""))
    await store.check()
    return record


def _same_path(a: str, b: str) -> bool:
    if a == b:
        return True
    try:
        return os.path.realpath(a) == os.path.realpath(b)
    except (OSError, ValueError):
        return False
