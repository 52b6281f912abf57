"""Attention graphs built ahead of need (`shapes.py`), the engine's idle work, and the kernel cache.

cuDNN runs only on the accelerator machine (`benchmarks/mlx_backend.py --scale` measures what the
prebuilt graphs save there). Here the same code runs on mlx's CPU backend and is checked for
what it must get right anywhere: the shapes it presents to attention, that it never touches a
session, that idle work gives way to prompts, and that a failure costs nothing but the head start.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest

from punie_acp.config import Settings
from punie_acp.models.mlx import MlxBackend, shapes, warmup
from punie_acp.models.mlx import engine as engine_module
from punie_acp.models.mlx.cache import CachePart, SessionCache
from punie_acp.models.mlx.engine import IDLE_GRACE_S
from punie_acp.models.mlx.jobs import Sampling
from punie_acp.models.mlx.kernel_cache import VARIABLE, kernel_cache_dir, use_private_kernel_cache
from punie_acp.models.mlx.loading import LoadedModel, LoadProgress, load_model
from punie_acp.models.mlx.steps import prefill_quanta
from tests.mlx.agents import make_agent
from tests.mlx.conftest import MakeBackend

pytestmark = pytest.mark.anyio

NAME = "scaled_dot_product_attention"


def _loaded(path: Path) -> LoadedModel:
    return load_model(str(path), None, lambda progress: None)


def _record_attention(loaded: LoadedModel, monkeypatch: pytest.MonkeyPatch) -> list[tuple[int, int, int]]:
    """(query length, key length, key buffer length) of every attention call the model makes."""
    module = sys.modules[type(loaded.model).__module__]
    original = getattr(module, NAME)
    calls: list[tuple[int, int, int]] = []

    def recording(queries: Any, keys: Any, values: Any, cache: Any, **kwargs: Any) -> Any:
        calls.append((queries.shape[2], keys.shape[2], cache.keys.shape[2]))
        return original(queries, keys, values, cache=cache, **kwargs)

    monkeypatch.setattr(module, NAME, recording)
    return calls


def test_chunk_shapes_are_full_chunks_from_position_zero(
    model_dirs: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    loaded = _loaded(model_dirs["random"])
    calls = _record_attention(loaded, monkeypatch)
    steps = sum(1 for _ in shapes.chunk_shapes(loaded, 512, longest=2048))
    assert steps == shapes.chunk_count(512, 2048) == 4
    # A fresh prompt's chunks: the buffer grows by one chunk at a time, as mlx-lm's cache does it.
    assert calls == [(512, 512, 512), (512, 1024, 1024), (512, 1536, 1536), (512, 2048, 2048)]


def test_decode_capacities_step_through_every_buffer_size(
    model_dirs: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    loaded = _loaded(model_dirs["random"])
    calls = _record_attention(loaded, monkeypatch)
    steps = sum(1 for _ in shapes.decode_capacities(loaded, longest=1024))
    assert steps == 4
    probe, *built = calls
    assert probe[0] == 1
    # One-token queries over a whole buffer of each capacity: the key mlx's CUDA backend uses.
    assert built == [(1, 256, 256), (1, 512, 512), (1, 768, 768), (1, 1024, 1024)]


def test_layer_zero_input_has_the_activation_dtype(model_dirs: dict[str, Path]) -> None:
    loaded = _loaded(model_dirs["random"])
    attention, x = shapes._layer_zero(loaded, 3)
    norm = loaded.model.layers[0].input_layernorm.weight
    assert attention is loaded.model.layers[0].self_attn
    assert x.shape == (1, 3, norm.shape[-1]) and x.dtype == norm.dtype


def test_a_model_without_self_attn_ends_the_steps_quietly(caplog: pytest.LogCaptureFixture) -> None:
    class Layer:
        pass

    class Odd:
        layers: ClassVar[list[Layer]] = [Layer()]

    odd = LoadedModel(model=Odd(), tokenizer=None, path=Path("odd"))
    with caplog.at_level(logging.INFO):
        assert list(shapes.guarded(shapes.decode_capacities(odd), "decoding graphs")) == []
    assert "built when first needed" in caplog.text


def test_not_needed_off_cuda() -> None:
    import mlx.core as mx

    assert shapes.needed() == (mx.default_device() == mx.gpu and mx.cuda.is_available())


def test_warm_up_builds_chunk_graphs_where_they_are_needed(
    model_dirs: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """With CUDA's per-shape costs (forced here), the warm-up's progress counts the chunk graphs."""
    from mlx_lm.models.cache import make_prompt_cache

    monkeypatch.setattr(shapes, "needed", lambda: True)
    monkeypatch.setattr(warmup, "request_path", lambda loaded: None)
    loaded = _loaded(model_dirs["random"])
    calls = _record_attention(loaded, monkeypatch)
    reports: list[LoadProgress] = []
    caches: list[SessionCache] = []

    def new_cache() -> SessionCache:
        caches.append(SessionCache([CachePart(list(make_prompt_cache(loaded.model)), list)]))
        return caches[-1]

    monkeypatch.setattr(shapes, "chunk_count", lambda step, longest=256: longest // step)
    original_chunks, original_long = shapes.chunk_shapes, shapes.long_decode
    monkeypatch.setattr(shapes, "chunk_shapes", lambda loaded, step: original_chunks(loaded, step, longest=256))
    monkeypatch.setattr(shapes, "long_decode", lambda loaded: original_long(loaded, capacity=512))
    warmup.warm_up(loaded, new_cache, 64, Sampling(max_tokens=1), 0, reports.append)

    total = reports[0].total
    assert total == prefill_quanta(loaded, caches[0], 64 + 33, 64) + warmup.DECODE_TOKENS + 4 + 1
    assert [r.done for r in reports] == list(range(total + 1))
    layers = len(loaded.model.layers)
    chunks = [(64, 64, 256), (64, 128, 256), (64, 192, 256), (64, 256, 256)]
    assert calls[-(4 + 1 + layers) :] == [*chunks, (1, 1, 256), *[(1, 512, 512)] * layers]


def test_long_decode_is_one_step_of_every_layer_over_a_full_buffer(
    model_dirs: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    loaded = _loaded(model_dirs["random"])
    calls = _record_attention(loaded, monkeypatch)
    assert sum(1 for _ in shapes.long_decode(loaded, capacity=1024)) == 1
    probe, *steps = calls
    assert probe == (1, 1, 256)  # layer 0 once, for the cache's heads, head size and dtype
    assert steps == [(1, 1024, 1024)] * len(loaded.model.layers)


async def _ready(path: Path, **settings: Any) -> MlxBackend:
    backend = MlxBackend(str(path), Settings(**settings))

    async def ignore(text: str) -> None:
        return None

    await backend.ensure_ready(ignore)
    return backend


class IdleLog:
    """Idle work of `items` 5 ms quanta (a graph build, scaled down) that records, on the model
    thread, whether a job was active or queued at each quantum."""

    def __init__(self, backend: MlxBackend, items: int, fail_at: int | None = None) -> None:
        self.engine = backend.engine
        self.busy_at: list[bool] = []
        self.at: list[float] = []  # monotonic time of each quantum
        self.items, self.fail_at = items, fail_at

    def __iter__(self) -> Iterator[None]:
        for i in range(self.items):
            if i == self.fail_at:
                raise RuntimeError("a graph build failed")
            time.sleep(0.005)
            self.busy_at.append(bool(self.engine._active or self.engine._pending))
            self.at.append(time.monotonic())
            yield


async def _until(check: Any, timeout: float = 10.0) -> None:
    for _ in range(int(timeout / 0.01)):
        if check():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("condition not reached")


@pytest.fixture
def short_load_grace(monkeypatch: pytest.MonkeyPatch) -> None:
    """Idle work may start `IDLE_GRACE_S` after loading, as after any job (tests of other things)."""
    monkeypatch.setattr(engine_module, "LOAD_GRACE_S", IDLE_GRACE_S)


@pytest.mark.usefixtures("short_load_grace")
async def test_idle_work_runs_only_while_no_job_wants_the_thread(model_dirs: dict[str, Path]) -> None:
    backend = await _ready(model_dirs["direct"])
    try:
        work = IdleLog(backend, items=600)  # ~3 s of idle work
        backend.engine.idle_work = iter(work)
        backend.engine.wake()
        await _until(lambda: len(work.busy_at) >= 3)
        reply = await make_agent(backend, "s1").run("hi", model_settings={"max_tokens": 4})
        ended = time.monotonic()
        assert reply.output
        assert len(work.busy_at) < 600  # the prompt did not wait for the idle work to finish
        await _until(lambda: bool(work.at) and work.at[-1] > ended)
        resumed = next(t for t in work.at if t > ended)
        assert resumed - ended >= IDLE_GRACE_S - 0.05  # not straight after the prompt: a grace period
        await _until(lambda: backend.engine.idle_work is None)
        assert len(work.busy_at) == 600
        assert not any(work.busy_at)  # never a quantum while a job was active or queued
    finally:
        await backend.aclose()


@pytest.mark.usefixtures("short_load_grace")
async def test_failing_idle_work_is_dropped_and_serving_goes_on(
    model_dirs: dict[str, Path], caplog: pytest.LogCaptureFixture
) -> None:
    backend = await _ready(model_dirs["direct"])
    try:
        work = IdleLog(backend, items=10, fail_at=2)
        with caplog.at_level(logging.ERROR):
            backend.engine.idle_work = iter(work)
            backend.engine.wake()
            await _until(lambda: backend.engine.idle_work is None)
        assert len(work.busy_at) == 2 and "idle work failed" in caplog.text
        reply = await make_agent(backend, "s1").run("hi", model_settings={"max_tokens": 4})
        assert reply.output
    finally:
        await backend.aclose()


@pytest.mark.usefixtures("short_load_grace")
async def test_close_stops_idle_work(model_dirs: dict[str, Path]) -> None:
    backend = await _ready(model_dirs["direct"])
    work = IdleLog(backend, items=10_000)
    backend.engine.idle_work = iter(work)
    backend.engine.wake()
    await _until(lambda: len(work.busy_at) > 0)
    await asyncio.wait_for(backend.aclose(), 10)
    assert len(work.busy_at) < 10_000


async def test_close_during_the_grace_period_after_a_prompt(model_dirs: dict[str, Path]) -> None:
    """The wake-up that announces closing is read while idle work waits out its grace period."""
    backend = await _ready(model_dirs["direct"])
    work = IdleLog(backend, items=10_000)
    backend.engine.idle_work = iter(work)
    reply = await make_agent(backend, "s1").run("hi", model_settings={"max_tokens": 4})
    assert reply.output
    await asyncio.sleep(0.1)  # the engine now waits for commands until the grace period is over
    await asyncio.wait_for(backend.aclose(), 5)
    assert work.busy_at == []  # closed before the grace period ended


@contextlib.asynccontextmanager
async def _idle_work_after_loading(path: Path, items: int) -> AsyncIterator[tuple[MlxBackend, IdleLog]]:
    """A backend just loaded, with `items` quanta of idle work handed to its engine."""
    backend = await _ready(path)
    try:
        work = IdleLog(backend, items=items)
        backend.engine.idle_work = iter(work)
        backend.engine.wake()
        yield backend, work
    finally:
        await backend.aclose()


async def test_a_first_prompt_after_loading_never_meets_idle_work(
    model_dirs: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """After loading, idle work waits `LOAD_GRACE_S` (not `IDLE_GRACE_S`) or for the first job;
    after that job, the ordinary grace period."""
    monkeypatch.setattr(engine_module, "LOAD_GRACE_S", 3.0)
    async with _idle_work_after_loading(model_dirs["direct"], items=100) as (backend, work):
        await asyncio.sleep(IDLE_GRACE_S + 0.3)  # the user is still typing
        assert work.at == []
        reply = await make_agent(backend, "s1").run("hi", model_settings={"max_tokens": 4})
        ended = time.monotonic()
        assert reply.output
        await _until(lambda: backend.engine.idle_work is None)
        assert IDLE_GRACE_S - 0.05 <= work.at[0] - ended < 3.0  # the ordinary grace once a job has run
        assert not any(work.busy_at)


async def test_without_a_prompt_idle_work_starts_after_the_load_grace(
    model_dirs: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(engine_module, "LOAD_GRACE_S", 1.5)
    async with _idle_work_after_loading(model_dirs["direct"], items=10) as (backend, work):
        ready = time.monotonic()  # a little after the engine's own moment: the bound below only tightens
        await _until(lambda: backend.engine.idle_work is None)
        assert work.at[0] - ready >= 1.5 - 0.1


async def test_the_engine_builds_decoding_graphs_when_idle_where_needed(
    model_dirs: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(engine_module, "LOAD_GRACE_S", 1.0)
    monkeypatch.setattr(shapes, "needed", lambda: True)
    monkeypatch.setattr(warmup, "request_path", lambda loaded: None)
    built: list[float] = []  # monotonic time of each build
    original = shapes.decode_capacities

    def counting(loaded: LoadedModel) -> Iterator[None]:
        for _ in original(loaded, longest=1024):
            built.append(time.monotonic())
            yield

    monkeypatch.setattr(shapes, "decode_capacities", counting)
    backend = await _ready(model_dirs["direct"], prefill_step_size=64)
    ready = time.monotonic()
    try:
        await _until(lambda: backend.engine.idle_work is None)
        assert len(built) == 4
        assert built[0] - ready >= 1.0 - 0.1  # a first prompt soon after loading does not wait for one
        reply = await make_agent(backend, "s1").run("hi", model_settings={"max_tokens": 4})
        assert reply.output
    finally:
        await backend.aclose()


async def test_job_stats_carry_where_the_time_went(model_dirs: dict[str, Path], make_backend: MakeBackend) -> None:
    backend = await make_backend(model_dirs["direct"])
    await make_agent(backend, "s1").run("hi " * 300, model_settings={"max_tokens": 4})
    stats = backend.engine.history[-1]
    assert stats.render_s > 0 and stats.prefill_s > 0 and stats.decode_s > 0
    assert stats.first_token_s >= stats.render_s + stats.prefill_s
    assert 0 <= stats.queued_s < stats.first_token_s  # nothing else was on the model thread


async def test_job_stats_count_the_wait_behind_other_work(
    model_dirs: dict[str, Path], make_backend: MakeBackend
) -> None:
    backend = await make_backend(model_dirs["direct"])
    engine = backend.engine
    blocker = asyncio.create_task(engine.call(lambda: time.sleep(0.3)))  # the model thread is busy
    await asyncio.sleep(0.05)
    await make_agent(backend, "s1").run("hi", model_settings={"max_tokens": 2})
    await blocker
    assert engine.history[-1].queued_s >= 0.2


def test_kernel_cache_goes_to_the_users_cache(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(sys, "platform", "linux")
    environ = {"XDG_CACHE_HOME": str(tmp_path)}
    folder = use_private_kernel_cache(environ)
    assert folder is not None and environ[VARIABLE] == str(folder)
    assert folder.parent == tmp_path / "punie" / "mlx-ptx"
    from importlib import metadata

    assert folder.name == metadata.version("mlx")  # kernels of one mlx are never loaded by another
    assert kernel_cache_dir(environ) == folder


@pytest.mark.parametrize(
    ("case", "environ", "platform"),
    [
        ("the user's own choice", {VARIABLE: "/mine", "XDG_CACHE_HOME": "/x"}, "linux"),
        ("a relative cache home", {"XDG_CACHE_HOME": "relative/cache"}, "linux"),
        ("macOS (Metal has its own cache)", {"XDG_CACHE_HOME": "/x"}, "darwin"),
    ],
)
def test_kernel_cache_left_alone(
    case: str, environ: dict[str, str], platform: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "platform", platform)
    before = dict(environ)
    assert use_private_kernel_cache(environ) is None, case
    assert environ == before
