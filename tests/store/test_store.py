"""Both session stores keep the same things in the same order; paging; deletion; the SQLite one across reopening."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from punie_acp.core.events import (
    DiffContent,
    Location,
    PlanEntry,
    PlanUpdated,
    TerminalContent,
    TextContent,
    TextDelta,
    ThoughtDelta,
    ToolFinished,
    ToolProgress,
    ToolStarted,
    TurnEnded,
    UsageReported,
)
from punie_acp.store import Choice, SessionRecord, SessionStore, StoredItem, TitleSet, UserPrompt
from punie_acp.store.cursor import make_cursor
from punie_acp.store.memory import MemoryStore
from punie_acp.store.sqlite import SqliteStore, _Write

pytestmark = pytest.mark.anyio

NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)

EVERY_KIND: list[StoredItem] = [
    TitleSet("fix the bug"),
    UserPrompt("fix the bug\nin a.py — ünïcode ✓"),
    ThoughtDelta("thinking"),
    TextDelta("Let me look."),
    ToolStarted("c1", "read_file", "read", "Read a.py", {"path": "a.py"}, (Location(Path("/p/a.py"), 3),)),
    ToolProgress("c1", (TextContent("half"),), (Location(Path("/p/a.py")),), "Reading a.py", True, "out"),
    ToolFinished("c1", True, {"output": "x = 1"}, (DiffContent(Path("/p/a.py"), None, "new"), TerminalContent("t1"))),
    PlanUpdated((PlanEntry("step one", "in_progress", "high"), PlanEntry("two"))),
    UsageReported(10, 20, {"cached": 3}),
    TurnEnded("cancelled", "stopped"),
    TurnEnded("max_turn_requests", "Stopped: repeated", "repeated_tool_call"),
    Choice("mode", "auto-edit"),
]


def record(session_id: str, cwd: str = "/p", at: datetime = NOW) -> SessionRecord:
    return SessionRecord(id=session_id, cwd=cwd, created_at=at, updated_at=at)


@pytest.fixture(params=["memory", "sqlite"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[SessionStore]:
    made: SessionStore = MemoryStore() if request.param == "memory" else SqliteStore(tmp_path / "sessions.db")
    yield made
    await made.aclose()


async def test_every_kind_of_item_comes_back_as_it_went_in(store: SessionStore) -> None:
    store.create(record("s1"))
    for item in EVERY_KIND:
        store.append("s1", item)
    assert await store.items("s1") == EVERY_KIND
    got = await store.get("s1")
    assert got is not None and got.choices == {"mode": "auto-edit"}
    assert got.updated_at > NOW  # appending bumps it


async def test_title_history_and_unknown_sessions(store: SessionStore) -> None:
    store.create(record("s1"))
    store.set_title("s1", "a title")
    store.save_history("s1", b"[1]")
    store.save_history("s1", b"[1, 2]")  # replaces
    store.append("ghost", TextDelta("nobody"))  # a session that was never created: ignored
    got = await store.get("s1")
    assert got is not None and got.title == "a title"
    assert await store.history("s1") == b"[1, 2]"
    assert await store.get("ghost") is None and await store.items("ghost") == []
    assert await store.history("ghost") is None


async def test_pages_cover_every_session_once_newest_first(store: SessionStore) -> None:
    ids = [f"s{i:02d}" for i in range(7)]
    for n, sid in enumerate(ids):
        store.create(record(sid, cwd="/p" if n % 2 == 0 else "/q", at=NOW + timedelta(minutes=n)))
    store.create(record("tie-a", at=NOW + timedelta(minutes=3)))  # same updated_at as s03: ordered by id
    seen: list[str] = []
    cursor: str | None = None
    for _ in range(10):
        page = await store.page(None, cursor, limit=3)
        seen += [r.id for r in page.sessions]
        cursor = page.next_cursor
        if cursor is None:
            break
    assert seen == ["s06", "s05", "s04", "tie-a", "s03", "s02", "s01", "s00"]
    only_p = await store.page("/p", None, limit=50)
    assert [r.id for r in only_p.sessions] == ["s06", "s04", "tie-a", "s02", "s00"] and only_p.next_cursor is None


@pytest.mark.parametrize(
    "cursor",
    ["", "not base64 !!", "W10", make_cursor(NOW, "x")[:-3], "eyJhIjoxfQ", "x" * 10_000, '["2026", "x"]'],
)
async def test_a_cursor_punie_did_not_make_is_refused(store: SessionStore, cursor: str) -> None:
    store.create(record("s1"))
    with pytest.raises(ValueError, match="cursor"):
        await store.page(None, cursor)


async def test_delete_removes_everything_kept(store: SessionStore) -> None:
    store.create(record("s1"))
    store.create(record("s2"))
    store.append("s1", UserPrompt("hi"))
    store.save_history("s1", b"[]")
    assert await store.delete("s1") is True
    assert await store.delete("s1") is False
    assert await store.get("s1") is None and await store.items("s1") == [] and await store.history("s1") is None
    assert [r.id for r in (await store.page(None, None)).sessions] == ["s2"]


async def test_sqlite_store_keeps_everything_across_reopening(tmp_path: Path) -> None:
    path = tmp_path / "state" / "punie" / "sessions.db"
    first = SqliteStore(path)
    first.create(record("s1", cwd="/p"))
    for item in EVERY_KIND:
        first.append("s1", item)
    first.save_history("s1", b'[{"kind": "request"}]')
    await first.aclose()
    assert path.stat().st_mode & 0o077 == 0  # transcripts quote code: only the user reads them
    second = SqliteStore(path)
    try:
        assert await second.items("s1") == EVERY_KIND
        assert await second.history("s1") == b'[{"kind": "request"}]'
    finally:
        await second.aclose()


async def hold_writer(store: SqliteStore, gate: asyncio.Event) -> None:
    """Keep the writer thread busy until `gate` is set; returns once it is held (nothing else in its batch)."""
    loop = asyncio.get_running_loop()
    holding = asyncio.Event()

    def held(_conn: sqlite3.Connection) -> None:
        loop.call_soon_threadsafe(holding.set)
        asyncio.run_coroutine_threadsafe(gate.wait(), loop).result()

    store._put(_Write(held))
    await asyncio.wait_for(holding.wait(), 30)


async def test_writes_do_not_wait_for_the_disk_and_a_burst_of_deltas_is_one_row(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "s.db")
    await store.check()
    gate = asyncio.Event()
    await hold_writer(store, gate)
    store.create(record("s1"))
    store.append("s1", UserPrompt("queued while the writer is busy"))  # returns at once: the loop runs on
    pieces = [f"tok{i} " for i in range(500)]
    for piece in pieces:
        store.append("s1", TextDelta(piece))
    store.append("s1", ThoughtDelta("a"))
    store.append("s1", ThoughtDelta("b"))
    gate.set()
    items = await store.items("s1")
    await store.aclose()
    assert items == [UserPrompt("queued while the writer is busy"), TextDelta("".join(pieces)), ThoughtDelta("ab")]


async def test_two_servers_on_one_store_both_keep_their_sessions(tmp_path: Path) -> None:
    """Two editor windows, two `punie serve`s, one store file: WAL and the busy timeout serialise them."""
    path = tmp_path / "sessions.db"
    a, b = SqliteStore(path), SqliteStore(path)
    a.create(record("from-a"))
    b.create(record("from-b"))
    for i in range(300):
        a.append("from-a", UserPrompt(f"a{i}"))
        b.append("from-b", UserPrompt(f"b{i}"))
    await asyncio.gather(a.check(), b.check())
    assert await a.items("from-b") == [UserPrompt(f"b{i}") for i in range(300)]
    assert await b.items("from-a") == [UserPrompt(f"a{i}") for i in range(300)]
    await a.aclose()
    await b.aclose()


def test_a_turn_end_written_before_stop_causes_reads_back_without_one() -> None:
    from punie_acp.store.codec import decode, encode

    assert decode("turn_ended", '{"stop_reason": "end_turn", "message": null}') == TurnEnded("end_turn")
    kind, text = encode(TurnEnded("max_turn_requests", "m", "usage_limit"))
    assert decode(kind, text) == TurnEnded("max_turn_requests", "m", "usage_limit")
    with pytest.raises(ValueError, match="unexpected value"):
        decode("turn_ended", '{"stop_reason": "end_turn", "message": null, "cause": "bogus"}')
