"""The file index of a workspace: names, sizes and mtimes, kept fresh by `watchfiles`.

Built on first use (the walk runs in a worker thread), then updated from the batches of the
root's shared watcher (`workspace.watch`: one thread and one inotify instance per root, not
per session, outside anyio's default thread pool) in a background task, so `list_files` and
`grep` never walk the tree per call and see the user's own creations, deletions and edits as
soon as the watcher reports them. Changes that arrive while the first walk runs are queued
and applied after it. A change to a `.gitignore` rebuilds the index (the rules changed).
If the watcher cannot start or dies (e.g. the inotify watch limit), the index degrades to a
fresh walk per use and logs why.
"""

from __future__ import annotations

import asyncio
import logging
import os
import stat
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Literal

import anyio
from watchfiles import Change

from punie_acp.workspace import watch
from punie_acp.workspace.listing import ALWAYS_SKIPPED, IGNORE_FILE, FileInfo, IgnoreRules, file_info, walk_files

log = logging.getLogger(__name__)

MAX_INDEXED = 200_000
State = Literal["idle", "building", "watching", "unwatched", "closed"]
RawChanges = set[tuple[Change, str]]


class FileIndex:
    def __init__(self, root: Path, *, debounce_ms: int = 400, step_ms: int = 50) -> None:
        self.root = root
        self._debounce = debounce_ms
        self._step = step_ms
        self._files: dict[str, FileInfo] = {}
        self._sorted: list[str] | None = None
        self._rules = IgnoreRules(root)
        self._state: State = "idle"
        self._task: asyncio.Task[None] | None = None
        self._inbox: asyncio.Queue[watch.Message] = asyncio.Queue()
        self._unsubscribe: Callable[[], None] | None = None
        self._start_lock = asyncio.Lock()
        self._changed = asyncio.Event()
        self._pending: list[RawChanges] = []
        self._apply_lock = asyncio.Lock()
        self.truncated = False

    @property
    def state(self) -> State:
        return self._state

    @property
    def watching(self) -> bool:
        return self._state == "watching" and self._task is not None and not self._task.done()

    async def files(self) -> list[tuple[str, FileInfo]]:
        """Every indexed file, sorted by relative path (a snapshot; safe to use from a thread)."""
        await self._ensure()
        if self._state in ("unwatched", "closed"):
            fresh = await anyio.to_thread.run_sync(self._walk)
            return sorted(fresh.items())
        if self._sorted is None:
            self._sorted = sorted(self._files)
        files = self._files
        return [(rel, files[rel]) for rel in self._sorted]

    def rules(self) -> IgnoreRules:
        return self._rules

    def note_written(self, path: Path) -> None:
        """The agent wrote `path`: show it now rather than when the watcher reports it."""
        if self._state != "watching":
            return
        rel = path.relative_to(self.root).as_posix()
        if self._rules.ignored(rel, False):
            return
        info = file_info(path, self.root)
        if info is not None:
            self._set(rel, info)
            self._notify()

    async def wait_until(self, predicate: Callable[[Mapping[str, FileInfo]], bool]) -> None:
        """Wait for the index to satisfy `predicate` (re-checked after every applied change).

        No timeout of its own: wrap it in `anyio.fail_after`.
        """
        await self._ensure()
        while not predicate(self._files):
            await self._changed.wait()

    # -- lifecycle ---------------------------------------------------------------------------

    async def _ensure(self) -> None:
        if self._state in ("watching", "unwatched", "closed"):
            return
        async with self._start_lock:
            if self._state != "idle":
                return
            self._state = "building"
            try:
                # The walk starts once the watcher's watches are registered: nothing created
                # during the walk is missed (changes meanwhile are queued, applied after it).
                await self._subscribe()
                files = await anyio.to_thread.run_sync(self._walk)
            except BaseException:  # cancelled (the turn was) or failed: the next use starts over
                self._abandon_start()
                raise
            if self._is_closed():
                return
            with anyio.CancelScope(shield=True):  # finish what is built; a cancel lands after
                self._files, self._sorted = files, None
                self._state = "watching" if self._task is not None and not self._task.done() else "unwatched"
                pending, self._pending = self._pending, []
                for changes in pending:
                    await self._apply(changes)
                self._notify()

    async def _subscribe(self) -> None:
        self._inbox = asyncio.Queue()
        self._unsubscribe = watch.subscribe(
            self.root,
            self._inbox.put_nowait,
            debounce_ms=self._debounce,
            step_ms=self._step,
            keep=_Interesting(self.root),
        )
        if self._unsubscribe is None:
            return  # too many roots watched: this index walks per use
        kind, payload = await self._inbox.get()
        if kind == "failed":
            log.warning("cannot watch %s (%s); the index will rescan on every use", self.root, payload)
            self._stop_watching()
            return
        self._task = asyncio.create_task(self._watch(), name=f"punie-index:{self.root}")

    def _stop_watching(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        if self._task is not None and not self._task.done():
            self._task.cancel()

    def _abandon_start(self) -> None:
        self._stop_watching()
        self._task, self._pending = None, []
        if not self._is_closed():
            self._state = "idle"

    def _is_closed(self) -> bool:
        return self._state == "closed"

    def close(self) -> None:
        """Stop watching (idempotent, callable from synchronous code)."""
        self._state = "closed"
        self._stop_watching()

    async def aclose(self) -> None:
        self.close()
        if self._task is not None:
            with anyio.CancelScope(shield=True):
                await asyncio.wait([self._task])

    async def _watch(self) -> None:
        while True:
            kind, payload = await self._inbox.get()
            if kind == "failed":  # the index still works, by walking per use
                log.warning("file watcher for %s stopped (%s); the index will rescan on every use", self.root, payload)
                break
            if kind != "changes" or not isinstance(payload, set):
                continue
            if self._state == "building":
                self._pending.append(payload)
            elif self._state == "watching":
                await self._apply(payload)
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        if self._state != "closed":
            self._state = "unwatched"

    # -- updates -----------------------------------------------------------------------------

    def _walk(self) -> dict[str, FileInfo]:
        self._rules = IgnoreRules(self.root)
        files = dict(walk_files(self.root, self._rules, limit=MAX_INDEXED))
        self.truncated = len(files) >= MAX_INDEXED
        if self.truncated:
            log.warning("index of %s stopped at %d files", self.root, MAX_INDEXED)
        return files

    async def _apply(self, changes: RawChanges) -> None:
        async with self._apply_lock:
            await self._apply_now(changes)

    async def _apply_now(self, changes: RawChanges) -> None:
        added: dict[str, bool] = {}  # path -> whether it (re)appeared in this batch
        for change, raw in changes:
            try:
                rel = Path(raw).relative_to(self.root).as_posix()
            except ValueError:
                continue
            if rel == ".":
                continue
            if self._rules_changed(rel):
                rebuilt = await anyio.to_thread.run_sync(self._walk)
                if self._state == "watching":
                    self._files, self._sorted = rebuilt, None
                self._notify()
                return
            added[rel] = added.get(rel, False) or change == Change.added
        for rel in sorted(added):
            await self._update(rel, added[rel])
        self._notify()

    def _rules_changed(self, rel: str) -> bool:
        """A change to ignore rules that count: not a .gitignore under an ignored directory."""
        if rel in (IGNORE_FILE, ".git/info/exclude"):
            return True
        if not rel.endswith("/" + IGNORE_FILE):
            return False
        return not self._rules.ignored(rel.rsplit("/", 1)[0], True)

    async def _update(self, rel: str, added: bool) -> None:
        path = self.root / rel
        try:
            is_dir = stat.S_ISDIR(os.lstat(path).st_mode)
        except OSError:  # gone (or unreadable): forget it and everything under it
            self._drop_tree(rel)
            return
        if is_dir:
            # A directory that appeared (created, or moved in whole) is walked; one that was
            # merely modified reports its files' changes itself.
            if added and not self._rules.ignored(rel, True):
                self._drop_tree(rel, keep_self=True)
                found = await anyio.to_thread.run_sync(lambda: list(walk_files(self.root, self._rules, rel)))
                for sub, sub_info in found:
                    self._set(sub, sub_info)
            return
        info = None if self._rules.ignored(rel, False) else file_info(path, self.root)
        if info is None:
            self._drop_tree(rel)
        else:
            self._set(rel, info)

    def _set(self, rel: str, info: FileInfo) -> None:
        if rel not in self._files:
            self._sorted = None
        self._files[rel] = info

    def _drop_tree(self, rel: str, keep_self: bool = False) -> None:
        prefix = rel + "/"
        gone = [k for k in self._files if k.startswith(prefix) or (k == rel and not keep_self)]
        for key in gone:
            del self._files[key]
        if gone:
            self._sorted = None

    def _notify(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()


class _Interesting:
    """Drops VCS internals and caches before they reach Python code (git touches .git constantly)."""

    def __init__(self, root: Path) -> None:
        self._prefix = str(root).rstrip(os.sep) + os.sep

    def __call__(self, change: Change, path: str) -> bool:
        if not path.startswith(self._prefix):
            return False
        parts = path[len(self._prefix) :].split(os.sep)
        if parts[0] == ".git":
            return parts[1:] == ["info", "exclude"]
        return not any(part in ALWAYS_SKIPPED for part in parts)
