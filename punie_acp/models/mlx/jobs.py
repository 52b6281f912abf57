"""What a generation request is, what it reports, and the handle the event loop holds.

Hand-off from the model thread to the event loop: each job has its own bounded outbox. The thread
appends without blocking and wakes the consumer with `loop.call_soon_threadsafe`; when a job's
outbox is full the scheduler simply skips that job (back-pressure) and keeps serving the others.
(A shared blocking `anyio.from_thread.run(send_stream.send, …)` would let one slow consumer stall
every other session's generation on the single model thread.) The consumer takes everything that
has accumulated in one batch, so a busy event loop costs fewer wake-ups, not dropped tokens.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections import deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

OUTBOX_CAPACITY = 256


@dataclass(frozen=True)
class Sampling:
    max_tokens: int
    temperature: float = 0.0
    top_p: float = 1.0
    top_k: int = 0
    seed: int | None = None
    presence_penalty: float | None = None
    frequency_penalty: float | None = None
    logit_bias: dict[int, float] | None = None


@dataclass(frozen=True)
class RenderedPrompt:
    tokens: list[int]
    text: str


# Runs on the model thread with the loaded `TokenizerWrapper`.
Render = Callable[[Any], RenderedPrompt]


@dataclass(frozen=True)
class GenerationRequest:
    session_id: str
    render: Render
    sampling: Sampling


@dataclass
class JobStats:
    """Token counts of one generation; `finish`: stop, length, repetition, cancelled or error."""

    session_id: str
    prompt_tokens: int = 0
    cached_tokens: int = 0  # prompt tokens whose KV state came from the session cache
    prefilled_tokens: int = 0  # prompt tokens actually run through the model
    generated_tokens: int = 0
    tokens_after_stop: int = 0  # tokens produced after the stop flag was seen set
    verifications: int = 0  # prompt lookup: forward passes that checked a draft
    drafted_tokens: int = 0  # prompt lookup: draft tokens checked
    accepted_tokens: int = 0  # prompt lookup: draft tokens the model agreed with
    finish: str | None = None
    # Wall seconds from `submit` to the job's start on the model thread: waiting behind other
    # jobs' quanta or one quantum of idle work.
    queued_s: float = 0.0
    # Wall seconds on the model thread (other sessions' steps interleaved count too): rendering and
    # tokenizing the prompt, then prefilling it, then from the job's start to its first token.
    render_s: float = 0.0
    prefill_s: float = 0.0
    first_token_s: float = 0.0
    decode_s: float = 0.0  # from the end of prefill to the end of the reply


@dataclass(frozen=True)
class Prompted:
    rendered: RenderedPrompt
    prompt_tokens: int
    cached_tokens: int


@dataclass(frozen=True)
class Text:
    text: str


@dataclass(frozen=True)
class Finished:
    stats: JobStats


@dataclass(frozen=True)
class Failed:
    error: BaseException


JobEvent = Prompted | Text | Finished | Failed


def coalesced(batch: list[JobEvent]) -> list[JobEvent]:
    """`batch` with each run of consecutive `Text` events joined into one."""
    merged: list[JobEvent] = []
    for event in batch:
        if isinstance(event, Text) and merged and isinstance(merged[-1], Text):
            merged[-1] = Text(merged[-1].text + event.text)
        else:
            merged.append(event)
    return merged


@dataclass(eq=False)
class JobHandle:
    request: GenerationRequest
    loop: asyncio.AbstractEventLoop
    wake_engine: Callable[[], None]
    stats: JobStats = field(init=False)
    submitted_at: float = field(default_factory=time.perf_counter, init=False)
    _items: deque[JobEvent] = field(default_factory=deque, init=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False)
    _waiter: asyncio.Future[None] | None = field(default=None, init=False)
    _stop: threading.Event = field(default_factory=threading.Event, init=False)
    _done: threading.Event = field(default_factory=threading.Event, init=False)
    _done_event: asyncio.Event = field(default_factory=asyncio.Event, init=False)

    def __post_init__(self) -> None:
        self.stats = JobStats(self.request.session_id)

    # -- model thread ---------------------------------------------------------------------

    @property
    def stop_requested(self) -> bool:
        return self._stop.is_set()

    def full(self) -> bool:
        return len(self._items) >= OUTBOX_CAPACITY

    def put(self, event: JobEvent) -> None:
        with self._lock:
            self._items.append(event)
            waiter, self._waiter = self._waiter, None
        if waiter is not None:
            self._call_soon(_wake, waiter)

    def end(self, event: Finished | Failed) -> None:
        self.put(event)
        self._done.set()
        self._call_soon(self._done_event.set)

    def _call_soon(self, fn: Callable[..., object], *args: object) -> None:
        with contextlib.suppress(RuntimeError):  # a closed loop: nobody is listening any more
            self.loop.call_soon_threadsafe(fn, *args)

    # -- event loop -----------------------------------------------------------------------

    @property
    def done(self) -> bool:
        return self._done.is_set()

    def cancel(self) -> None:
        """Ask the model thread to stop this job (before its next token or prefill chunk)."""
        if not self._done.is_set() and not self._stop.is_set():
            self._stop.set()
            self.wake_engine()

    async def batches(self, min_interval: float = 0.0) -> AsyncIterator[list[JobEvent]]:
        """Everything the job reports, in batches, ending with `Finished` or `Failed`.

        With `min_interval` (seconds), a batch that follows one with text waits until that long
        after it, unless the job ends first: text accumulates meanwhile, so a fast model's tokens
        reach the consumer a few at a time (the first token never waits).
        """
        texted: float | None = None  # when the last batch with text was handed over
        while True:
            if texted is not None and min_interval > 0:
                await self._pause(texted + min_interval - self.loop.time())
            batch = await self._next_batch()
            if any(isinstance(event, Text) for event in batch):
                texted = self.loop.time()
            yield batch
            if isinstance(batch[-1], Finished | Failed):
                return

    async def _pause(self, seconds: float) -> None:
        """Sleep up to `seconds`, waking early when the job ends (its last events never wait)."""
        if seconds <= 0 or self._done.is_set():
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._done_event.wait(), seconds)

    async def _next_batch(self) -> list[JobEvent]:
        while True:
            with self._lock:
                if self._items:
                    was_full = len(self._items) >= OUTBOX_CAPACITY
                    batch = list(self._items)
                    self._items.clear()
                    break
                waiter = self._waiter = self.loop.create_future()
            await waiter
        if was_full:
            self.wake_engine()
        return batch

    async def wait_done(self) -> None:
        """Until the model thread has let go of this job (finished, failed or stopped)."""
        await self._done_event.wait()


def _wake(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)
