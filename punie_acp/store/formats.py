"""The SQLite store's file format: what each version holds, how an older one is brought up to date,
and how a file that is not ours, damaged, or from a newer punie is refused without being touched.

`PRAGMA user_version` is the format; `PRAGMA application_id` marks the file as a punie store, so a
stray SQLite file at the configured path is refused rather than written into.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from punie_acp.store.protocol import StoreUnavailable

log = logging.getLogger(__name__)

APPLICATION_ID = 0x70756E69  # "puni"


def _v1(conn: sqlite3.Connection) -> None:
    conn.execute(
        "CREATE TABLE sessions (id TEXT PRIMARY KEY, cwd TEXT NOT NULL, title TEXT,"
        " created_at TEXT NOT NULL, updated_at TEXT NOT NULL)"
    )
    conn.execute("CREATE INDEX sessions_by_update ON sessions (updated_at DESC, id DESC)")
    conn.execute(
        "CREATE TABLE items (seq INTEGER PRIMARY KEY AUTOINCREMENT,"
        " session_id TEXT NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,"
        " kind TEXT NOT NULL, body TEXT NOT NULL)"
    )
    conn.execute("CREATE INDEX items_by_session ON items (session_id, seq)")


def _v2(conn: sqlite3.Connection) -> None:
    # Format 2 keeps the user's choices (mode, config options) and the model's message history,
    # so a reopened session continues the same conversation rather than only showing it.
    conn.execute("ALTER TABLE sessions ADD COLUMN choices TEXT NOT NULL DEFAULT '{}'")
    conn.execute(
        "CREATE TABLE histories (session_id TEXT PRIMARY KEY REFERENCES sessions (id) ON DELETE CASCADE,"
        " messages BLOB NOT NULL)"
    )


# MIGRATIONS[n] turns format n into format n + 1.
MIGRATIONS: tuple[Callable[[sqlite3.Connection], None], ...] = (_v1, _v2)
CURRENT = len(MIGRATIONS)


def stamp(when: datetime) -> str:
    """A UTC time as fixed-width text, so text order is time order in SQL."""
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f+00:00")


def open_store_file(path: Path, *, upto: int = CURRENT) -> sqlite3.Connection:
    """Open (creating or migrating) the store at `path`; raises `StoreUnavailable` with what to do."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        # Transcripts quote the user's code: the file (and its -wal/-shm, which copy its mode) is private.
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600))
        conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=10.0)
    except (OSError, sqlite3.Error) as exc:
        raise StoreUnavailable(f"the session store {path} cannot be opened: {exc}; {_ADVICE}") from None
    try:
        _prepare_when_free(conn, path, upto)
    except BaseException:
        conn.close()
        raise
    return conn


class _Busy(Exception):
    """Another punie holds a lock that SQLite will not wait for (switching to WAL, a lock upgrade)."""


def _prepare_when_free(conn: sqlite3.Connection, path: Path, upto: int) -> None:
    # Several editor windows start punie at once on a new store: SQLite answers some of those
    # lock conflicts at once with "database is locked" instead of waiting, so wait here.
    deadline = time.monotonic() + 10.0
    while True:
        try:
            _prepare(conn, path, upto)
            return
        except _Busy as exc:
            if time.monotonic() > deadline:
                raise StoreUnavailable(
                    f"the session store {path} stayed locked by another punie ({exc}); {_ADVICE}"
                ) from None
            time.sleep(0.02)


_ADVICE = "pass --session-store PATH to use another file, or --session-store none to keep sessions in memory only"


def _prepare(conn: sqlite3.Connection, path: Path, upto: int) -> None:
    try:
        version, app, tables = _header(conn)
    except sqlite3.DatabaseError as exc:
        raise _failure(path, exc) from None
    if app != APPLICATION_ID and (version != 0 or tables != 0 or app != 0):
        raise StoreUnavailable(f"{path} is not a punie session store; it was left as it is; {_ADVICE}")
    if version > CURRENT:
        raise StoreUnavailable(
            f"the session store {path} was written by a newer punie (format {version}; this punie reads up to "
            f"{CURRENT}); it was left as it is: upgrade punie, or {_ADVICE}"
        )
    try:
        if version > 0:
            check = str(conn.execute("PRAGMA quick_check(1)").fetchone()[0])
            if check != "ok":
                raise _damaged(path, check.splitlines()[0][:200])
        conn.execute("PRAGMA busy_timeout = 10000")
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")  # with WAL: a killed process loses nothing committed
        conn.execute("PRAGMA foreign_keys = ON")
        if version < upto:
            _migrate(conn, path, version, upto)
    except sqlite3.DatabaseError as exc:
        raise _failure(path, exc) from None


def _failure(path: Path, exc: sqlite3.DatabaseError) -> Exception:
    """A lock SQLite would not wait for (retried), or a damaged file."""
    busy = getattr(exc, "sqlite_errorcode", None) in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)
    if isinstance(exc, sqlite3.OperationalError) and (busy or "locked" in str(exc)):
        return _Busy(str(exc))
    return _damaged(path, exc)


def _header(conn: sqlite3.Connection) -> tuple[int, int, int]:
    """Format, application id and table count, read first: a file that is not a database fails here,
    before anything is written. One read transaction: another punie creating the store commits all
    three at once, and separate reads could see half of it (tables but no id: "not a punie store")."""
    conn.execute("BEGIN")
    try:
        version = int(conn.execute("PRAGMA user_version").fetchone()[0])
        app = int(conn.execute("PRAGMA application_id").fetchone()[0])
        tables = int(conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0])
    finally:
        if conn.in_transaction:
            conn.execute("ROLLBACK")  # nothing was written
    return version, app, tables


def _migrate(conn: sqlite3.Connection, path: Path, version: int, upto: int) -> None:
    if version > 0:
        backup = path.with_name(f"{path.name}.format{version}.bak")
        log.info("session store %s: format %d → %d; a copy of the old one is kept at %s", path, version, upto, backup)
        with sqlite3.connect(backup) as copy:
            conn.backup(copy)
        copy.close()
    conn.execute("BEGIN IMMEDIATE")
    try:
        # Another punie may have migrated (or created) it while this one waited for the lock.
        version = int(conn.execute("PRAGMA user_version").fetchone()[0])
        if version > upto:
            raise StoreUnavailable(f"the session store {path} was just upgraded by a newer punie; {_ADVICE}")
        for step in MIGRATIONS[version:upto]:
            step(conn)
        conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
        conn.execute(f"PRAGMA user_version = {upto}")
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


def _damaged(path: Path, cause: object) -> StoreUnavailable:
    cause = " ".join(str(cause).split())[:200]
    return StoreUnavailable(
        f"the session store {path} is damaged ({cause}); it was left as it is: move it aside "
        f"(mv {path} {path}.broken) to start a new one, or {_ADVICE}"
    )
