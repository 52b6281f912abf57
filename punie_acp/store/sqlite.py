"""`SqliteStore`: the session store in one SQLite file, written by one dedicated thread.

Every operation is queued to that thread in the order it was made; writes return at once, reads
are awaited. The thread applies whatever has queued up in one transaction, merging a burst of
text deltas into one row, so a fast model costs a few commits a second rather than one per token,
and a killed server loses only the writes still in the queue (WAL: a committed transaction
survives the process). Nothing here blocks the event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import queue
import sqlite3
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from punie_acp.core.events import TextDelta, ThoughtDelta
from punie_acp.store.codec import decode, encode
from punie_acp.store.cursor import make_cursor, read_cursor
from punie_acp.store.formats import open_store_file, stamp
from punie_acp.store.layout import caches_beside, discard_caches
from punie_acp.store.protocol import PAGE_SIZE, Choice, Page, SessionRecord, StoredItem, StoreUnavailable

log = logging.getLogger(__name__)

_Run = Callable[[sqlite3.Connection], Any]


@dataclass
class _Append:
    session_id: str
    item: StoredItem
    at: datetime


@dataclass
class _Write:
    run: _Run


@dataclass
class _Read:
    run: _Run
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[Any]


_Op = _Append | _Write | _Read | None  # None: close


class SqliteStore:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._ops: queue.SimpleQueue[_Op] = queue.SimpleQueue()
        self._error: StoreUnavailable | None = None
        self._closed = False
        self._thread = threading.Thread(target=self._serve, name="punie-store", daemon=True)
        self._thread.start()

    # -- writes -----------------------------------------------------------------------

    def create(self, record: SessionRecord) -> None:
        self._put(
            _Write(
                lambda c: c.execute(
                    "INSERT OR IGNORE INTO sessions (id, cwd, title, created_at, updated_at, choices)"
                    " VALUES (?, ?, ?, ?, ?, ?)",
                    (
                        record.id,
                        record.cwd,
                        record.title,
                        stamp(record.created_at),
                        stamp(record.updated_at),
                        json.dumps(record.choices),
                    ),
                )
            )
        )

    def append(self, session_id: str, item: StoredItem) -> None:
        self._put(_Append(session_id, item, datetime.now(UTC)))

    def set_title(self, session_id: str, title: str) -> None:
        self._put(_Write(lambda c: c.execute("UPDATE sessions SET title = ? WHERE id = ?", (title, session_id))))

    def save_history(self, session_id: str, history: bytes) -> None:
        self._put(
            _Write(
                lambda c: c.execute(
                    "INSERT OR REPLACE INTO histories (session_id, messages) SELECT id, ? FROM sessions WHERE id = ?",
                    (history, session_id),
                )
            )
        )

    def _put(self, op: _Op) -> None:
        if self._closed:
            log.warning("session store %s is closed; a write was dropped", self.path)
            return
        self._ops.put(op)

    # -- reads ------------------------------------------------------------------------

    async def get(self, session_id: str) -> SessionRecord | None:
        if not _bindable(session_id):
            await self.check()
            return None
        row = await self._read(
            lambda c: c.execute(
                "SELECT id, cwd, created_at, updated_at, title, choices FROM sessions WHERE id = ?", (session_id,)
            ).fetchone()
        )
        return None if row is None else _record(row)

    async def items(self, session_id: str) -> list[StoredItem]:
        if not _bindable(session_id):
            return []
        rows = await self._read(
            lambda c: c.execute(
                "SELECT kind, body FROM items WHERE session_id = ? ORDER BY seq", (session_id,)
            ).fetchall()
        )
        items: list[StoredItem] = []
        for kind, body in rows:
            try:
                items.append(decode(kind, body))
            except ValueError as exc:
                log.warning("session %s: skipped a stored item: %s", session_id, exc)
        return items

    async def history(self, session_id: str) -> bytes | None:
        if not _bindable(session_id):
            return None
        row = await self._read(
            lambda c: c.execute("SELECT messages FROM histories WHERE session_id = ?", (session_id,)).fetchone()
        )
        return None if row is None else bytes(row[0])

    async def page(self, cwd: str | None, cursor: str | None, limit: int = PAGE_SIZE) -> Page:
        limit = max(1, limit)
        after = read_cursor(cursor) if cursor is not None else None
        if cwd is not None and not _bindable(cwd):
            await self.check()
            return Page([])  # no session was ever made in a directory that cannot be named
        where, args = ["1 = 1"], []
        if cwd is not None:
            where.append("cwd = ?")
            args.append(cwd)
        if after is not None:
            where.append("(updated_at < ? OR (updated_at = ? AND id < ?))")
            args += [stamp(after[0]), stamp(after[0]), after[1]]
        sql = (
            "SELECT id, cwd, created_at, updated_at, title, choices FROM sessions WHERE "
            + " AND ".join(where)
            + " ORDER BY updated_at DESC, id DESC LIMIT ?"
        )
        rows = await self._read(lambda c: c.execute(sql, (*args, limit + 1)).fetchall())
        records = [_record(r) for r in rows[:limit]]
        more = len(rows) > limit
        return Page(records, make_cursor(records[-1].updated_at, records[-1].id) if more else None)

    async def delete(self, session_id: str) -> bool:
        if not _bindable(session_id):
            await self.check()
            return False

        def run(c: sqlite3.Connection) -> bool:
            with c:  # one transaction: the items and history go with the session (foreign keys cascade)
                deleted = c.execute("DELETE FROM sessions WHERE id = ?", (session_id,)).rowcount > 0
            discard_caches(caches_beside(self.path), session_id)  # its saved KV caches too
            return deleted

        return bool(await self._read(run))

    async def check(self) -> None:
        await self._read(lambda c: None)

    async def aclose(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._ops.put(None)
        await asyncio.to_thread(self._thread.join)

    async def _read(self, run: _Run) -> Any:
        if self._closed:
            raise StoreUnavailable(f"the session store {self.path} is closed")
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        self._ops.put(_Read(run, loop, future))
        return await future

    # -- the store thread -----------------------------------------------------------------

    def _serve(self) -> None:
        try:
            conn: sqlite3.Connection | None = open_store_file(self.path)
        except StoreUnavailable as exc:
            log.error("%s", exc)
            self._error, conn = exc, None
        except Exception as exc:  # unexpected: still one line for the user, the traceback in the log
            log.exception("opening the session store %s failed", self.path)
            self._error, conn = StoreUnavailable(f"the session store {self.path} cannot be opened: {exc}"), None
        try:
            while self._batch(conn):
                pass
        finally:
            if conn is not None:
                conn.close()

    def _batch(self, conn: sqlite3.Connection | None) -> bool:
        """Apply what has queued up (at least one op); False once asked to close."""
        ops = [self._ops.get()]
        with contextlib.suppress(queue.Empty):
            while len(ops) < 4096:
                ops.append(self._ops.get_nowait())
        writes: list[_Append | _Write] = []
        keep_going = True
        for op in ops:
            if op is None:
                keep_going = False
            elif isinstance(op, _Read):
                self._commit(conn, writes)
                writes = []
                self._answer(conn, op)
            else:
                writes.append(op)
        self._commit(conn, writes)
        return keep_going

    def _commit(self, conn: sqlite3.Connection | None, writes: list[_Append | _Write]) -> None:
        if not writes:
            return
        if conn is None:
            log.warning("session store unavailable: %d writes dropped", len(writes))
            return
        merged = _merged(writes)
        try:
            self._apply(conn, merged)
        except Exception:
            # One bad write must not cost the others: apply them one by one, dropping only what fails.
            for op in merged:
                try:
                    self._apply(conn, [op])
                except Exception:
                    log.exception("session store %s: a write could not be saved", self.path)

    def _apply(self, conn: sqlite3.Connection, ops: list[_Append | _Write]) -> None:
        with conn:
            conn.execute("BEGIN IMMEDIATE")
            for op in ops:
                if isinstance(op, _Append):
                    _insert(conn, op)
                else:
                    op.run(conn)

    def _answer(self, conn: sqlite3.Connection | None, op: _Read) -> None:
        result: Any = None
        error: BaseException | None = self._error
        if conn is not None:
            try:
                result = op.run(conn)
            except Exception as exc:  # the thread serves on whatever one request did
                log.exception("session store %s: a read failed", self.path)
                error = StoreUnavailable(f"the session store {self.path} could not be read: {exc}")
        with contextlib.suppress(RuntimeError):  # that loop has closed
            op.loop.call_soon_threadsafe(_settle, op.future, result, error)


def _bindable(text: str) -> bool:
    """Whether SQLite can take this text (a lone surrogate from a client's JSON cannot be UTF-8)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _merged(writes: list[_Append | _Write]) -> list[_Append | _Write]:
    """Adjacent text (or thought) deltas of one session become one row: same transcript, fewer rows."""
    out: list[_Append | _Write] = []
    for op in writes:
        last = out[-1] if out else None
        if isinstance(op, _Append) and isinstance(last, _Append) and last.session_id == op.session_id:
            a, b = last.item, op.item
            if isinstance(a, TextDelta) and isinstance(b, TextDelta):
                out[-1] = _Append(op.session_id, TextDelta(a.text + b.text), op.at)
                continue
            if isinstance(a, ThoughtDelta) and isinstance(b, ThoughtDelta):
                out[-1] = _Append(op.session_id, ThoughtDelta(a.text + b.text), op.at)
                continue
        out.append(op)
    return out


def _insert(conn: sqlite3.Connection, op: _Append) -> None:
    kind, body = encode(op.item)
    cursor = conn.execute(
        "INSERT INTO items (session_id, kind, body) SELECT id, ?, ? FROM sessions WHERE id = ?",
        (kind, body, op.session_id),
    )
    if cursor.rowcount == 0:
        return  # deleted meanwhile (or never stored): nothing to add to
    conn.execute("UPDATE sessions SET updated_at = ? WHERE id = ?", (stamp(op.at), op.session_id))
    if isinstance(op.item, Choice):
        conn.execute(
            "UPDATE sessions SET choices = json_set(choices, '$.' || json_quote(?), ?) WHERE id = ?",
            (op.item.key, op.item.value, op.session_id),
        )


def _record(row: tuple[Any, ...]) -> SessionRecord:
    session_id, cwd, created, updated, title, choices = row
    try:
        loaded = json.loads(choices)
        picked = {str(k): str(v) for k, v in loaded.items()} if isinstance(loaded, dict) else {}
    except ValueError:
        picked = {}
    return SessionRecord(
        id=session_id,
        cwd=cwd,
        created_at=datetime.fromisoformat(created),
        updated_at=datetime.fromisoformat(updated),
        title=title,
        choices=picked,
    )


def _settle(future: asyncio.Future[Any], result: Any, error: BaseException | None) -> None:
    if future.done():
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)
