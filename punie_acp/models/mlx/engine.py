"""The model thread: loads the model, then runs every session's generations, one step at a time.

mlx streams belong to the thread that made them (since mlx 0.31.2), so one dedicated thread loads
the weights and does all model work; nothing else touches mlx. `mlx_lm` is imported on that thread,
never at server start-up.

Scheduling: each job is a generator that does one quantum per `next()` — render the prompt, one
layer of one prefill chunk, or one decoded token. Active jobs are stepped round-robin, so a second
session's reply starts streaming while the first is still generating instead of waiting for it.
A job's stop flag is checked before each quantum: cancelling stops a generation within one token,
or within one layer of one prefill chunk (see `steps.py`); a queued job that is cancelled is
dropped without running. Jobs of the same session run one after the other.

Idle work: on CUDA the thread builds attention graphs ahead of need (`shapes.py`) once no job has
been active or queued for `IDLE_GRACE_S` (the gap between a turn's model requests, while a tool
runs, is usually shorter), one ~50 ms build at a time, so a prompt waits for at most one of them.
After loading it waits longer, `LOAD_GRACE_S` or until the first job: a first prompt is likely on
its way then (the editor opened the session for it), and it should not be the one that waits.
(On an H200, with 0.5 s then, a first prompt sent ~1 s after ready waited 250–450 ms for a build:
the first builds of a process took up to 450 ms, not ~50. With this grace it waited 0.2 ms.)
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from typing import Any

from punie_acp.config import Settings
from punie_acp.models.base import ModelNotAvailable
from punie_acp.models.mlx import shapes
from punie_acp.models.mlx.cache import CachePart, PromptCacheStore, SessionCache
from punie_acp.models.mlx.jobs import Failed, Finished, GenerationRequest, JobHandle, JobStats, Sampling
from punie_acp.models.mlx.kernel_cache import use_private_kernel_cache
from punie_acp.models.mlx.loading import LoadedModel, LoadProgress, load_model
from punie_acp.models.mlx.lookup import LookupConfig
from punie_acp.models.mlx.persist import SavedCaches
from punie_acp.models.mlx.steps import DEFAULT_PREFILL_STEP, PrefillTuning, Steps, run_job
from punie_acp.models.mlx.warmup import device_prefill_step, warm_up

log = logging.getLogger(__name__)

_Active = tuple[JobHandle, Steps]
IDLE_GRACE_S = 0.5
# On an H200 the first prompt after loading a MoE model, sent ~1 s after ready, waited 0.27-0.45 s
# behind an idle build (and took 1.38x a warm prompt's time to first token) when this was IDLE_GRACE_S.
LOAD_GRACE_S = 5.0


class Engine:
    def __init__(self, spec: str, settings: Settings, *, prefill_step: int | None = None) -> None:
        self.spec = spec
        self.settings = settings
        self.progress = LoadProgress("waiting to start")
        self.error: BaseException | None = None
        self.loaded: LoadedModel | None = None
        self.history: deque[JobStats] = deque(maxlen=256)
        step = prefill_step or settings.prefill_step_size
        if step < 0:
            log.warning("prefill_step_size %s is not a token count; using mlx-lm's default", step)
            step = DEFAULT_PREFILL_STEP
        self._step_per_device = step == 0  # chosen once mlx is loaded (warmup.device_prefill_step)
        self.prefill = PrefillTuning(step=step or DEFAULT_PREFILL_STEP)
        # Prompt-lookup drafts (lookup.py); None: plain decoding. Not combined with a draft model.
        self.lookup = (
            LookupConfig(settings.lookup_draft_tokens, settings.lookup_ngram) if settings.prompt_lookup else None
        )
        self._commands: queue.SimpleQueue[Callable[[], None] | None] = queue.SimpleQueue()
        self._settled = threading.Event()  # loaded, or failed to
        self._lock = threading.Lock()
        self._waiters: list[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = []
        self._thread: threading.Thread | None = None
        self._closing = False
        self._pending: deque[JobHandle] = deque()
        self._active: list[_Active] = []
        self._caches: PromptCacheStore | None = None
        # Work for the model thread when no job wants it, one quantum per next() (shapes.py).
        self.idle_work: Iterator[None] | None = None
        self._busy_at = 0.0  # monotonic time a job was last active or queued
        self._served = False  # a job has run since the model loaded (then idle work waits IDLE_GRACE_S)
        self.warmups = 0  # warm-up generations run (one per load)
        # KV caches saved across restarts (persist.py); set before start(), None keeps none.
        self.saved: SavedCaches | None = None

    # -- event loop side ------------------------------------------------------------------

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="punie-mlx", daemon=True)
            self._thread.start()

    @property
    def on_prefill_chunk(self) -> Callable[[JobStats], None] | None:
        """Test and benchmark hook, called on the model thread after each prefill chunk."""
        return self.prefill.on_chunk

    @on_prefill_chunk.setter
    def on_prefill_chunk(self, hook: Callable[[JobStats], None] | None) -> None:
        self.prefill.on_chunk = hook

    @property
    def ready(self) -> bool:
        return self._settled.is_set() and self.error is None

    async def wait_ready(self) -> None:
        """Until the model is loaded; raises `ModelNotAvailable` if it could not be."""
        self.start()
        event = asyncio.Event()
        with self._lock:
            if self._settled.is_set():
                event.set()
            else:
                self._waiters.append((asyncio.get_running_loop(), event))
        await event.wait()
        if self.error is not None:
            raise _unavailable(self.spec, self.error)

    def submit(self, request: GenerationRequest) -> JobHandle:
        handle = JobHandle(request, asyncio.get_running_loop(), self.wake)
        self._commands.put(lambda: self._pending.append(handle))
        self.start()
        return handle

    def wake(self) -> None:
        self._commands.put(None)

    def forget(self, session_id: str) -> None:
        self._commands.put(lambda: self._caches.forget(session_id) if self._caches else None)

    async def call(self, fn: Callable[[], Any]) -> Any:
        """Run `fn` on the model thread (between quanta) and return its result."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()

        def run() -> None:
            try:
                result = fn()
            except BaseException as exc:  # handed to the awaiting side
                loop.call_soon_threadsafe(_settle, future, None, exc)
            else:
                loop.call_soon_threadsafe(_settle, future, result, None)

        self._commands.put(run)
        self.start()
        return await future

    async def idle(self) -> bool:
        """True when no generation is running or queued (asked on the model thread)."""
        return bool(await self.call(lambda: not self._active and not self._pending))

    async def cached_sessions(self) -> list[str]:
        """Session ids with a KV cache, least recently used first."""
        return list(await self.call(lambda: self._caches.sessions() if self._caches else []))

    async def aclose(self) -> None:
        """Stop the model thread: running jobs stop at their next step, queued ones are dropped.

        A load in progress cannot be interrupted; shutdown waits for it a few seconds at most
        (the thread is a daemon and ends with the process).
        """
        self._closing = True
        self.wake()
        if self._thread is not None:
            await asyncio.to_thread(self._thread.join, None if self._settled.is_set() else 5.0)

    # -- model thread ---------------------------------------------------------------------

    def _report(self, progress: LoadProgress) -> None:
        self.progress = progress

    def _run(self) -> None:
        try:
            if folder := use_private_kernel_cache():
                log.debug("mlx kernel cache: %s", folder)
            self.loaded = load_model(
                self.spec,
                self.settings.draft_model,
                self._report,
                unquantized_experts=self.settings.unquantized_experts,
            )
            if self.saved is not None:
                self.saved.bind(self.loaded)
            self._caches = PromptCacheStore(self.settings.max_cached_sessions, self._new_cache, self.saved)
            if self._step_per_device:
                self.prefill.step = device_prefill_step()
            self._warm_up()
            if shapes.needed():
                self.idle_work = shapes.guarded(shapes.decode_capacities(self.loaded), "decoding attention graphs")
            self._busy_at = time.monotonic()  # LOAD_GRACE_S from here: a prompt may be on its way
            self._served = False
            self.progress = LoadProgress("ready")
        except ModelNotAvailable as exc:  # expected (not downloaded, not a model): its message says it all
            log.info("loading %s failed: %s", self.spec, exc, exc_info=True)
            self.error = exc
        except BaseException as exc:  # reported to every waiter and job
            log.exception("loading %s failed", self.spec)
            self.error = exc
        with self._lock:
            self._settled.set()
            waiters, self._waiters = self._waiters, []
        for loop, event in waiters:
            with contextlib.suppress(RuntimeError):  # that loop has closed
                loop.call_soon_threadsafe(event.set)
        try:
            self._schedule()
        except BaseException:
            log.exception("the mlx model thread crashed")
            raise

    def _warm_up(self) -> None:
        """Compile what the first prompt needs before reporting ready (see `warmup.py`).

        A failed warm-up costs only speed: the model is served anyway, and a real fault shows
        up again, with its own message, on the first prompt.
        """
        assert self.loaded is not None
        self.warmups += 1
        try:
            settings = self.settings
            sampling = Sampling(max_tokens=1, temperature=settings.temperature, top_p=settings.top_p)
            warm_up(self.loaded, self._new_cache, self.prefill.step, sampling, settings.num_draft_tokens, self._report)
        except Exception:
            log.exception("the warm-up generation failed; serving without it")

    def _new_cache(self) -> SessionCache:
        assert self.loaded is not None
        models = [self.loaded.model] + ([self.loaded.draft] if self.loaded.draft is not None else [])
        return SessionCache([CachePart(_maker(m)(), _maker(m)) for m in models])

    def _schedule(self) -> None:
        while True:
            if self._active or self._pending:
                self._busy_at = time.monotonic()
            else:
                if self._caches is not None:
                    self._caches.settle()  # idle: save changed KV caches before waiting
                if self._idle_quantum():
                    continue
            # Never wait once closing: the wake-up that said so may have been read already.
            self._drain(block=not self._active and not self._pending and not self._closing)
            if self._closing:
                for handle in [h for h, _ in self._active] + list(self._pending):
                    handle.cancel()
            self._admit()
            progressed = False
            for entry in list(self._active):
                handle, steps = entry
                if handle.stop_requested:
                    self._end(entry, "cancelled")
                elif not handle.full():
                    try:
                        next(steps)
                        progressed = True
                    except StopIteration:
                        self._end(entry, None)
                    except Exception as exc:  # the job fails, the thread goes on
                        log.exception("generation failed")
                        self._end(entry, exc)
            if self._closing and not self._active and not self._pending:
                if self._caches is not None:
                    self._caches.settle()
                return
            if self._active and not progressed:
                self._drain(block=True, timeout=0.05)

    def _idle_quantum(self) -> bool:
        """One quantum of idle work unless a command came in first; False when there is none left."""
        if self.idle_work is None or self._closing:
            return False
        waited = time.monotonic() - self._busy_at
        grace = IDLE_GRACE_S if self._served else LOAD_GRACE_S
        if waited < grace:
            self._drain(block=True, timeout=grace - waited)
            return True  # look again: a command may have brought a job
        self._drain(block=False)
        if self._pending or self._closing:
            return False
        try:
            next(self.idle_work)
        except StopIteration:
            self.idle_work = None
        except Exception:  # idle work is optional: drop it, keep serving
            log.exception("idle work failed")
            self.idle_work = None
        return True

    def _drain(self, block: bool, timeout: float | None = None) -> None:
        try:
            command = self._commands.get(block=block, timeout=timeout)
            while True:
                if command is not None:
                    command()
                command = self._commands.get_nowait()
        except queue.Empty:
            return

    def _admit(self) -> None:
        busy = {h.request.session_id for h, _ in self._active}
        waiting: deque[JobHandle] = deque()
        while self._pending:
            handle = self._pending.popleft()
            if handle.stop_requested:
                self._finish(handle, "cancelled")
            elif self.error is not None:
                handle.end(Failed(_unavailable(self.spec, self.error)))
            elif handle.request.session_id in busy:
                waiting.append(handle)
            else:
                busy.add(handle.request.session_id)
                self._served = True
                assert self.loaded is not None and self._caches is not None
                steps = run_job(
                    handle, self.loaded, self._caches, self.prefill, self.settings.num_draft_tokens, self.lookup
                )
                self._active.append((handle, steps))
        self._pending = waiting

    def _end(self, entry: _Active, outcome: str | Exception | None) -> None:
        handle, steps = entry
        self._active.remove(entry)
        steps.close()
        if isinstance(outcome, Exception):
            handle.stats.finish = "error"
            self.history.append(handle.stats)
            handle.end(Failed(outcome))
        else:
            self._finish(handle, outcome)

    def _finish(self, handle: JobHandle, finish: str | None) -> None:
        if finish is not None:
            handle.stats.finish = finish
        self.history.append(handle.stats)
        handle.end(Finished(handle.stats))


def _maker(model: Any) -> Callable[[], list[Any]]:
    def make() -> list[Any]:
        from mlx_lm.models.cache import make_prompt_cache

        return list(make_prompt_cache(model))

    return make


def _settle(future: asyncio.Future[Any], result: Any, error: BaseException | None) -> None:
    if future.done():
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)


def _unavailable(spec: str, error: BaseException) -> ModelNotAvailable:
    if isinstance(error, ModelNotAvailable):
        return error
    return ModelNotAvailable(f"Could not load model {spec}: {type(error).__name__}: {error}")
