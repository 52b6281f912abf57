"""File watchers with their own means: one per project root, shared, on a dedicated thread.

`watchfiles.awatch` parks one worker of anyio's default thread pool (40 threads, shared with
file reads, grep, writes and the process reaper) per watcher, in 5-second calls, and opens
one inotify instance per watcher (the per-user limit is often 128). With one watcher per
session, 40 idle sessions starved every turn. Here every index of a root subscribes to that
root's single watcher, which runs `RustNotify` on a daemon thread of its own; at most
`MAX_WATCHED_ROOTS` roots are watched at once (beyond that an index rescans per use). So a
session costs no thread and no inotify instance of its own, and the default pool is left alone.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Literal

from watchfiles import Change
from watchfiles._rust_notify import RustNotify

log = logging.getLogger(__name__)

MAX_WATCHED_ROOTS = 16  # inotify instances are per user (often 128), shared with the editor
STOP_CHECK_MS = 1000  # how long one wait for changes lasts before the stop flag is checked again

Kind = Literal["ready", "changes", "failed"]
Message = tuple[Kind, object]
Filter = Callable[[Change, str], bool]


class _Subscriber:
    def __init__(self, loop: asyncio.AbstractEventLoop, deliver: Callable[[Message], None]) -> None:
        self.loop = loop
        self.deliver = deliver

    def post(self, message: Message) -> bool:
        """Deliver on the subscriber's loop; False when that loop is closed (nobody listens any more)."""
        try:
            self.loop.call_soon_threadsafe(self.deliver, message)
        except RuntimeError:
            return False
        return True


class RootWatch:
    """The one watcher of a root; subscribers get ('ready'|'changes'|'failed', payload) on their loop."""

    def __init__(self, root: Path, debounce_ms: int, step_ms: int, keep: Filter) -> None:
        self.root = root
        self._debounce = debounce_ms
        self._step = step_ms
        self._keep = keep
        self._lock = threading.Lock()
        self._subscribers: dict[int, _Subscriber] = {}
        self._ready = False
        self._failed: Exception | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"punie-watch:{root}", daemon=True)

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def start(self) -> None:
        self._thread.start()

    def add(self, token: int, subscriber: _Subscriber) -> None:
        with self._lock:
            self._subscribers[token] = subscriber
            if self._failed is not None:
                subscriber.post(("failed", self._failed))
            elif self._ready:
                subscriber.post(("ready", None))

    def remove(self, token: int) -> bool:
        """Drop a subscriber; True when none is left (the watcher then stops)."""
        with self._lock:
            self._subscribers.pop(token, None)
            empty = not self._subscribers
        if empty:
            self._stop.set()
        return empty

    def _broadcast(self, message: Message) -> None:
        with self._lock:
            gone = [token for token, subscriber in self._subscribers.items() if not subscriber.post(message)]
            for token in gone:  # a session dropped without closing, its loop gone: stop serving it
                del self._subscribers[token]
            if gone and not self._subscribers:
                self._stop.set()

    def _run(self) -> None:
        try:
            notify = RustNotify([str(self.root)], False, False, 300, True, True)
        except Exception as exc:  # e.g. the inotify limit: indexes fall back to a walk per use
            with self._lock:
                self._failed = exc
            self._broadcast(("failed", exc))
            _release(self)
            return
        with notify:
            with self._lock:
                self._ready = True
            self._broadcast(("ready", None))
            while not self._stop.is_set():
                try:
                    result = notify.watch(self._debounce, self._step, STOP_CHECK_MS, self._stop)
                except Exception as exc:
                    log.warning("file watcher for %s stopped (%s)", self.root, exc)
                    self._broadcast(("failed", exc))
                    break
                if isinstance(result, set):
                    changes = {(Change(kind), path) for kind, path in result if self._keep(Change(kind), path)}
                    if changes:
                        self._broadcast(("changes", changes))
        _release(self)


_registry_lock = threading.Lock()
_watches: dict[Path, RootWatch] = {}
_tokens = iter(range(1, 1 << 62))


def _release(watch: RootWatch) -> None:
    with _registry_lock:
        if _watches.get(watch.root) is watch:
            del _watches[watch.root]


def subscribe(
    root: Path, deliver: Callable[[Message], None], *, debounce_ms: int, step_ms: int, keep: Filter
) -> Callable[[], None] | None:
    """Follow `root`'s changes (messages arrive on the running loop); returns the unsubscribe.

    None when `MAX_WATCHED_ROOTS` other roots are watched already.
    """
    subscriber = _Subscriber(asyncio.get_running_loop(), deliver)
    with _registry_lock:
        token = next(_tokens)
        watch = _watches.get(root)
        if watch is None or watch.stopping:
            if len(_watches) >= MAX_WATCHED_ROOTS:
                log.warning("%d project roots are watched already; %s is rescanned per use", MAX_WATCHED_ROOTS, root)
                return None
            watch = _watches[root] = RootWatch(root, debounce_ms, step_ms, keep)
            watch.start()
        watch.add(token, subscriber)

    def unsubscribe() -> None:
        with _registry_lock:
            if watch.remove(token) and _watches.get(watch.root) is watch:
                del _watches[watch.root]

    return unsubscribe


def watched_roots() -> int:
    """How many roots have a watcher now (each: one thread, one inotify instance)."""
    with _registry_lock:
        return len(_watches)
