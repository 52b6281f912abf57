"""The file index: lazy start, kept fresh by watchfiles, never rebuilt per call, stopped on close.

Changes made outside the agent are awaited with `FileIndex.wait_until` (woken by each batch
the watcher applies) under a generous `fail_after`: no sleeps, no timing assertions.
"""

from __future__ import annotations

import asyncio
import shutil
import threading
from collections.abc import AsyncIterator, Callable, Mapping
from pathlib import Path
from typing import Any

import anyio
import pytest

from punie_acp.config import Settings
from punie_acp.core.session import SessionManager
from punie_acp.workspace.index import FileIndex
from punie_acp.workspace.listing import FileInfo
from tests.tools.turns import EditorDouble, call, new_session

pytestmark = pytest.mark.anyio

Files = Mapping[str, FileInfo]


async def settle(index: FileIndex, predicate: Callable[[Files], bool]) -> None:
    with anyio.fail_after(30):  # a failure guard, not a timing assertion
        await index.wait_until(predicate)


@pytest.fixture
async def started(tmp_path: Path) -> AsyncIterator[tuple[Any, FileIndex]]:
    (tmp_path / ".gitignore").write_text("*.log\n")
    (tmp_path / "a.py").write_text("a = 1\n")
    session, _ = new_session(tmp_path, EditorDouble(answers=["allow_always"]))
    index = session.workspace.index
    assert index.state == "idle"  # nothing runs until a tool needs it
    assert (await call(session, "list_files")).raw_output == ".gitignore\na.py"
    assert index.watching
    yield session, index
    await session.workspace.aclose()


async def test_external_create_modify_delete_are_seen(started: tuple[Any, FileIndex], tmp_path: Path) -> None:
    session, index = started
    (tmp_path / "new.py").write_text("x\n")
    await settle(index, lambda f: "new.py" in f)
    assert "new.py" in (await call(session, "list_files")).raw_output.splitlines()

    (tmp_path / "new.py").write_text("x = 'much longer now'\n")
    await settle(index, lambda f: "new.py" in f and f["new.py"].size == 22)

    (tmp_path / "new.py").unlink()
    await settle(index, lambda f: "new.py" not in f)
    assert (await call(session, "list_files")).raw_output.splitlines() == [".gitignore", "a.py"]


async def test_directories_moved_in_and_removed(started: tuple[Any, FileIndex], tmp_path: Path) -> None:
    _, index = started
    staging = tmp_path.parent / (tmp_path.name + "-staging")
    (staging / "lib" / "deep").mkdir(parents=True)
    (staging / "lib" / "one.py").write_text("1\n")
    (staging / "lib" / "deep" / "two.py").write_text("2\n")
    shutil.move(str(staging / "lib"), str(tmp_path / "lib"))  # one rename event for a whole tree
    await settle(index, lambda f: {"lib/one.py", "lib/deep/two.py"} <= set(f))
    shutil.rmtree(tmp_path / "lib")
    await settle(index, lambda f: not any(k.startswith("lib/") for k in f))


async def test_ignored_files_stay_out_and_gitignore_edits_apply(started: tuple[Any, FileIndex], tmp_path: Path) -> None:
    session, index = started
    (tmp_path / "debug.log").write_text("noise\n")
    (tmp_path / "sentinel.py").write_text("\n")  # written after: once it is in, the log was handled
    await settle(index, lambda f: "sentinel.py" in f)
    assert "debug.log" not in await _names(index)
    (tmp_path / ".gitignore").write_text("*.log\nsentinel.py\n")
    await settle(index, lambda f: "sentinel.py" not in f)
    (tmp_path / ".gitignore").write_text("")
    await settle(index, lambda f: "debug.log" in f and "sentinel.py" in f)
    assert (await call(session, "grep", pattern="noise")).raw_output == "debug.log:1: noise"


async def test_the_index_is_not_rebuilt_per_call(started: tuple[Any, FileIndex], monkeypatch: Any) -> None:
    session, index = started
    walks: list[int] = []
    real_walk = index._walk

    def counted() -> Files:
        walks.append(1)
        return real_walk()

    monkeypatch.setattr(index, "_walk", counted)
    for _ in range(3):
        await call(session, "list_files")
        await call(session, "grep", pattern="a")
    assert walks == []


async def test_agent_writes_show_at_once(started: tuple[Any, FileIndex]) -> None:
    session, index = started
    assert (await call(session, "write_file", path="made.py", content="m\n")).ok
    # No waiting: the tool updates the index itself.
    assert "made.py" in (await call(session, "list_files")).raw_output.splitlines()
    assert "made.py" in await _names(index)


async def test_closing_the_session_stops_the_watcher(tmp_path: Path) -> None:
    (tmp_path / "a.py").write_text("\n")
    manager = SessionManager(Settings())
    session = manager.create(str(tmp_path), lambda _sid: EditorDouble())
    await call(session, "list_files")
    index = session.workspace.index
    task = index._task
    assert task is not None and not task.done()
    manager.close(session.id)
    with anyio.fail_after(30):
        await asyncio.wait([task])
    assert index.state == "closed" and task.done()


async def test_without_a_watcher_the_index_rescans_each_use(tmp_path: Path, monkeypatch: Any) -> None:
    def broken(*args: Any, **kwargs: Any) -> Any:
        raise OSError(28, "inotify watch limit reached")

    monkeypatch.setattr("punie_acp.workspace.watch.RustNotify", broken)
    (tmp_path / "a.py").write_text("\n")
    session, _ = new_session(tmp_path)
    assert (await call(session, "list_files")).raw_output == "a.py"
    assert session.workspace.index.state == "unwatched"
    (tmp_path / "b.py").write_text("\n")
    assert (await call(session, "list_files")).raw_output == "a.py\nb.py"
    await session.workspace.aclose()


async def _names(index: FileIndex) -> list[str]:
    return [rel for rel, _ in await index.files()]


async def test_a_cancelled_or_failed_first_build_leaves_a_usable_index(tmp_path: Path, monkeypatch: Any) -> None:
    (tmp_path / "a.py").write_text("\n")
    index = FileIndex(tmp_path.resolve())
    real_walk = index._walk
    entered, release = threading.Event(), threading.Event()

    def slow_walk() -> Files:
        entered.set()
        release.wait(30)
        return real_walk()

    # Cancelled while the first walk runs (the turn was cancelled): the walk finishes, the index is whole.
    monkeypatch.setattr(index, "_walk", slow_walk)
    with anyio.CancelScope() as scope:
        async with anyio.create_task_group() as tg:
            tg.start_soon(index.files)
            await anyio.to_thread.run_sync(entered.wait, 30)
            scope.cancel()
            release.set()
    assert scope.cancelled_caught
    assert index.watching
    assert [rel for rel, _ in await index.files()] == ["a.py"]
    await index.aclose()

    # A first walk that fails: the next use starts over.
    index = FileIndex(tmp_path.resolve())
    real_walk = index._walk

    def failing_walk() -> Files:
        raise PermissionError(13, "Permission denied", str(tmp_path))

    monkeypatch.setattr(index, "_walk", failing_walk)
    with pytest.raises(PermissionError):
        await index.files()
    assert index.state == "idle"
    monkeypatch.setattr(index, "_walk", real_walk)
    assert [rel for rel, _ in await index.files()] == ["a.py"]
    assert index.watching
    await index.aclose()


async def test_indexes_of_one_root_share_one_watcher(tmp_path: Path) -> None:
    from punie_acp.workspace import watch

    root = tmp_path.resolve()
    (root / "a.py").write_text("\n")
    before = watch.watched_roots()
    first, second = FileIndex(root), FileIndex(root)
    assert await _names(first) == ["a.py"] and await _names(second) == ["a.py"]
    assert first.watching and second.watching
    assert watch.watched_roots() == before + 1  # one thread, one inotify instance for both
    (root / "b.py").write_text("\n")
    await settle(first, lambda files: "b.py" in files)
    await settle(second, lambda files: "b.py" in files)
    await first.aclose()
    (root / "c.py").write_text("\n")  # the other session's index still follows changes
    await settle(second, lambda files: "c.py" in files)
    await second.aclose()
    assert watch.watched_roots() == before


async def test_past_the_watched_roots_limit_an_index_rescans_per_use(tmp_path: Path, monkeypatch: Any) -> None:
    from punie_acp.workspace import watch

    monkeypatch.setattr(watch, "MAX_WATCHED_ROOTS", watch.watched_roots() + 1)
    one, two = tmp_path / "one", tmp_path / "two"
    for root in (one, two):
        root.mkdir()
        (root / "a.py").write_text("\n")
    watched, unwatched = FileIndex(one.resolve()), FileIndex(two.resolve())
    assert await _names(watched) == ["a.py"] and watched.watching
    assert await _names(unwatched) == ["a.py"] and unwatched.state == "unwatched"
    (two / "b.py").write_text("\n")
    assert await _names(unwatched) == ["a.py", "b.py"]
    await watched.aclose()
    await unwatched.aclose()
