"""The store file: a damaged, foreign or newer one is refused and left untouched; an older one is migrated;
a killed writer loses only what was still queued."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from punie_acp.core.events import TextDelta
from punie_acp.store import StoreUnavailable, UserPrompt
from punie_acp.store.formats import APPLICATION_ID, CURRENT, open_store_file, stamp
from punie_acp.store.sqlite import SqliteStore

pytestmark = pytest.mark.anyio


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


async def refusal(path: Path) -> str:
    store = SqliteStore(path)
    try:
        with pytest.raises(StoreUnavailable) as info:
            await store.check()
        with pytest.raises(StoreUnavailable):  # every read, not only the first
            await store.get("x")
        store.append("x", UserPrompt("dropped, never written"))
    finally:
        await store.aclose()
    message = str(info.value)
    assert "\n" not in message and str(path) in message
    return message


async def test_a_damaged_store_is_refused_and_left_as_it_is(tmp_path: Path) -> None:
    path = tmp_path / "sessions.db"
    path.write_bytes(b"this was never a database " * 200)
    before = digest(path)
    message = await refusal(path)
    assert "damaged" in message and "mv " in message and "--session-store" in message
    assert digest(path) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sessions.db"]  # no -wal, no backup, nothing new


async def test_a_store_damaged_inside_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "sessions.db"
    good = SqliteStore(path)
    now = datetime.now(UTC)
    from punie_acp.store import SessionRecord

    good.create(SessionRecord("s1", "/p", now, now))
    for i in range(2000):
        good.append("s1", UserPrompt(f"prompt {i} " * 20))
    await good.aclose()
    data = bytearray(path.read_bytes())
    page = 4096
    data[3 * page : 6 * page] = b"\xff" * (3 * page)  # overwrite pages in the middle of the tables
    path.write_bytes(bytes(data))
    before = digest(path)
    message = await refusal(path)
    assert "damaged" in message
    assert digest(path) == before


async def test_a_store_from_a_newer_punie_is_refused_and_left_as_it_is(tmp_path: Path) -> None:
    path = tmp_path / "sessions.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE future (x)")
        conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
        conn.execute(f"PRAGMA user_version = {CURRENT + 1}")
    conn.close()
    before = digest(path)
    message = await refusal(path)
    assert "newer punie" in message and f"format {CURRENT + 1}" in message and "upgrade punie" in message
    assert digest(path) == before


async def test_a_sqlite_file_that_is_not_ours_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "sessions.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE someone_elses (x)")
        conn.execute("INSERT INTO someone_elses VALUES (1)")
    conn.close()
    before = digest(path)
    assert "not a punie session store" in await refusal(path)
    assert digest(path) == before


async def test_a_symlinked_store_path_is_refused(tmp_path: Path) -> None:
    target = tmp_path / "elsewhere.txt"
    target.write_text("not yours")
    link = tmp_path / "sessions.db"
    link.symlink_to(target)
    assert "cannot be opened" in await refusal(link)
    assert target.read_text() == "not yours"


async def test_an_older_format_is_migrated_keeping_its_sessions_and_a_backup(tmp_path: Path) -> None:
    path = tmp_path / "sessions.db"
    old = open_store_file(path, upto=1)  # format 1: sessions and items, no choices, no model history
    when = stamp(datetime(2026, 1, 1, tzinfo=UTC))
    old.execute("INSERT INTO sessions VALUES ('s1', '/p', 'old title', ?, ?)", (when, when))
    old.execute("INSERT INTO items (session_id, kind, body) VALUES ('s1', 'user', ?)", (json.dumps({"text": "hi"}),))
    old.execute("INSERT INTO items (session_id, kind, body) VALUES ('s1', 'text', ?)", (json.dumps({"text": "yo"}),))
    assert old.execute("PRAGMA user_version").fetchone()[0] == 1
    old.close()
    store = SqliteStore(path)
    try:
        record = await store.get("s1")
        assert record is not None and record.title == "old title" and record.choices == {}
        assert await store.items("s1") == [UserPrompt("hi"), TextDelta("yo")]
        store.save_history("s1", b"[]")  # what format 2 added works on the migrated file
        assert await store.history("s1") == b"[]"
    finally:
        await store.aclose()
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == CURRENT
    conn.close()
    backup = sqlite3.connect(tmp_path / "sessions.db.format1.bak")
    assert backup.execute("PRAGMA user_version").fetchone()[0] == 1
    assert backup.execute("SELECT title FROM sessions").fetchall() == [("old title",)]
    backup.close()


WRITER = """
import asyncio, sys
from datetime import UTC, datetime
from pathlib import Path
from punie_acp.core.events import TextDelta
from punie_acp.store import SessionRecord, UserPrompt
from punie_acp.store.sqlite import SqliteStore

async def main() -> None:
    store = SqliteStore(Path(sys.argv[1]))
    now = datetime.now(UTC)
    store.create(SessionRecord("s1", "/p", now, now))
    for i in range(200):
        store.append("s1", UserPrompt(f"prompt {i}"))
        store.append("s1", TextDelta(f"answer {i}"))
    await store.check()  # all of it saved
    print("saved", flush=True)
    while True:
        store.append("s1", TextDelta("."))
        await asyncio.sleep(0.001)

asyncio.run(main())
"""


async def test_a_killed_writer_loses_nothing_it_had_saved(tmp_path: Path) -> None:
    path = tmp_path / "sessions.db"
    proc = await asyncio.create_subprocess_exec(sys.executable, "-c", WRITER, str(path), stdout=subprocess.PIPE)
    try:
        assert proc.stdout is not None
        assert (await asyncio.wait_for(proc.stdout.readline(), 120)).strip() == b"saved"
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        await asyncio.wait_for(proc.wait(), 60)
    assert proc.returncode == -signal.SIGKILL
    store = SqliteStore(path)
    try:
        items = await store.items("s1")
    finally:
        await store.aclose()
    expected: list[object] = []
    for i in range(200):
        expected += [UserPrompt(f"prompt {i}"), TextDelta(f"answer {i}")]
    assert items[:400] == expected
    assert all(isinstance(i, TextDelta) and set(i.text) == {"."} for i in items[400:])  # what was in flight, or less
