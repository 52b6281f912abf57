"""Sends a turn's updates to the client without making the model wait on the pipe.

The turn pushes events; one sender task writes them in order. Text (or thought) messages go
out at most once per `MIN_DELTA_INTERVAL`, and deltas pushed in between merge into the pending
chunk, so a burst faster than the client can take (a replayed script, a cached answer) costs
a few messages instead of one per delta, while a real model, slower than that by far, still
gets one chunk per token with no added latency.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any

import anyio

from punie_acp.acp.updates import UpdateMapper
from punie_acp.core.events import Event, TextDelta, ThoughtDelta

log = logging.getLogger(__name__)

SendUpdate = Callable[[Any], Awaitable[None]]
# Events that cannot merge (tool calls, plans) queue up to this many before the turn waits.
MAX_PENDING = 1024
# At most one text (or thought) message per this many seconds; a burst in between merges.
# Far below what a person can see, and far above any real model's time per token, so a
# real model's tokens each get their own chunk at once.
MIN_DELTA_INTERVAL = 0.002


class UpdateSender:
    def __init__(
        self, send: SendUpdate, mapper: UpdateMapper | None = None, min_interval: float = MIN_DELTA_INTERVAL
    ) -> None:
        self._send = send
        self._min_interval = min_interval
        self._last_delta = float("-inf")
        self._mapper = mapper or UpdateMapper()
        self._pending: deque[Event] = deque()
        self._has_work = anyio.Event()
        self._has_room = anyio.Event()
        self._idle = anyio.Event()
        self._idle.set()
        self._closed = False
        self._failed: BaseException | None = None

    async def push(self, event: Event) -> None:
        if self._failed is not None:
            raise ConnectionError("the client stopped receiving updates") from self._failed
        last = self._pending[-1] if self._pending else None
        if isinstance(event, TextDelta) and isinstance(last, TextDelta):
            self._pending[-1] = TextDelta(last.text + event.text)
        elif isinstance(event, ThoughtDelta) and isinstance(last, ThoughtDelta):
            self._pending[-1] = ThoughtDelta(last.text + event.text)
        else:
            while len(self._pending) >= MAX_PENDING:
                self._has_room = anyio.Event()
                await self._has_room.wait()
            self._pending.append(event)
        self._idle = anyio.Event() if self._idle.is_set() else self._idle
        self._has_work.set()

    async def run(self) -> None:
        """The sender loop; returns after `close()` once everything pushed has been sent."""
        while True:
            if not self._pending:
                self._idle.set()
                if self._closed:
                    return
                self._has_work = anyio.Event()
                await self._has_work.wait()
                continue
            if isinstance(self._pending[0], TextDelta | ThoughtDelta):
                wait = self._last_delta + self._min_interval - anyio.current_time()
                if wait > 0:
                    await anyio.sleep(wait)  # deltas pushed meanwhile merge into this one
                    continue
                self._last_delta = anyio.current_time()
            event = self._pending.popleft()
            self._has_room.set()
            update = self._mapper.map(event)
            if update is None:
                continue
            try:
                await self._send(update)
            except Exception as exc:  # client gone: stop sending, let the turn notice on its next push
                log.warning("could not send update: %s", exc)
                self._failed = exc
                self._pending.clear()
                self._idle.set()
                return

    async def flush(self) -> None:
        """Wait until everything pushed so far has been sent (before a request that refers to it)."""
        await self._idle.wait()

    async def close(self) -> None:
        """Flush everything pushed so far, then stop the loop."""
        self._closed = True
        self._has_work.set()
        await self._idle.wait()
