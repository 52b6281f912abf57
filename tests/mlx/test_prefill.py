"""Fixed-size prefill chunks, the stop flag between layers, and the warm-up after loading."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from punie_acp.config import Settings
from punie_acp.models.mlx import MlxBackend
from punie_acp.models.mlx.cache import CachePart, SessionCache
from punie_acp.models.mlx.jobs import JobStats, Sampling
from punie_acp.models.mlx.loading import LoadProgress, load_model
from punie_acp.models.mlx.steps import DEFAULT_PREFILL_STEP, PrefillTuning, prefill_chunks, prefill_quanta
from punie_acp.models.mlx.warmup import DECODE_TOKENS, STAGE, device_prefill_step, plan, warm_up
from tests.mlx.agents import make_agent
from tests.mlx.conftest import MakeBackend
from tests.support.fabricate import ModelShape, write_random_model

pytestmark = pytest.mark.anyio

LONG = "read this file " * 900  # ~5,400 tokens with the fabricated tokenizer


def _chunk_sizes(backend: MlxBackend) -> list[int]:
    """Record each prefill chunk's size (model thread) from the running prefilled count."""
    sizes: list[int] = []
    seen = [0]

    def record(stats: JobStats) -> None:
        sizes.append(stats.prefilled_tokens - seen[0])
        seen[0] = stats.prefilled_tokens

    backend.engine.on_prefill_chunk = record
    return sizes


async def test_long_prompt_takes_fixed_chunks_of_the_devices_default_size(
    model_dirs: dict[str, Path], make_backend: MakeBackend
) -> None:
    backend = await make_backend(model_dirs["random"])
    sizes = _chunk_sizes(backend)
    await make_agent(backend, "s1").run(LONG, model_settings={"max_tokens": 1})
    stats = backend.engine.history[-1]

    step = device_prefill_step()  # 256 on the CPU (cancel waits for one layer of one chunk), 2048 on a GPU
    assert backend.engine.prefill.step == step
    full, rest = divmod(stats.prompt_tokens - 1, step)
    assert full >= 2 and rest > 0
    assert sizes == [step] * full + [rest]


async def test_chunk_size_comes_from_settings(model_dirs: dict[str, Path], make_backend: MakeBackend) -> None:
    backend = await make_backend(model_dirs["random"], prefill_step_size=384)
    sizes = _chunk_sizes(backend)
    await make_agent(backend, "s1").run(LONG, model_settings={"max_tokens": 1})
    stats = backend.engine.history[-1]

    chunks = -(-(stats.prompt_tokens - 1) // 384)
    assert len(sizes) == chunks  # O(prompt / chunk), whatever the timings were
    assert sizes[:-1] == [384] * (chunks - 1) and 0 < sizes[-1] <= 384
    assert sum(sizes) == stats.prompt_tokens - 1


def test_prefill_yields_once_per_layer_of_each_chunk(model_dirs: dict[str, Path]) -> None:
    from mlx_lm.models.cache import make_prompt_cache

    loaded = load_model(str(model_dirs["random"]), None, lambda progress: None)
    entry = SessionCache([CachePart(list(make_prompt_cache(loaded.model)), lambda: [])])
    layers = len(loaded.model.layers)
    chunks: list[int] = []
    one_layer = PrefillTuning(step=32, target_s=0)
    steps = sum(
        1 for _ in prefill_chunks(loaded, entry, list(range(5, 105)), one_layer, lambda n, main: chunks.append(n))
    )

    assert chunks == [32, 32, 32, 3]  # 99 tokens: the last one goes in with decoding
    assert steps == 4 * layers == prefill_quanta(loaded, entry, 100, 32)
    assert entry.parts[0].offset == 99


def test_fast_layers_are_evaluated_several_per_step(tmp_path: Path) -> None:
    """Timings change only how many layers one step evaluates, never the chunk sizes."""
    from mlx_lm.models.cache import make_prompt_cache

    path = write_random_model(tmp_path / "six", ModelShape(num_hidden_layers=6))
    loaded = load_model(str(path), None, lambda progress: None)
    entry = SessionCache([CachePart(list(make_prompt_cache(loaded.model)), list)])
    tuning = PrefillTuning(step=32, target_s=3600.0)  # any measured layer is "fast"
    chunks: list[int] = []
    steps = sum(1 for _ in prefill_chunks(loaded, entry, list(range(5, 105)), tuning, lambda n, main: chunks.append(n)))

    assert chunks == [32, 32, 32, 3]
    # Unmeasured: layer 0 (never a measure), layer 1, then the other four; later chunks: all six at once.
    assert steps == 3 + 3
    assert entry.parts[0].offset == 99


class _Tripwire:
    """A KV cache layer that calls `on_eval` when the engine evaluates its state (model thread)."""

    def __init__(self, inner: Any, on_eval: Callable[[], None]) -> None:
        self._inner, self._on_eval = inner, on_eval

    @property
    def state(self) -> Any:
        self._on_eval()
        return self._inner.state

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


async def test_cancel_lands_between_layers_of_one_chunk(model_dirs: dict[str, Path], make_backend: MakeBackend) -> None:
    backend = await make_backend(model_dirs["random"])
    engine = backend.engine
    reached, release = threading.Event(), threading.Event()
    evaluated = {"first": 0, "last": 0}

    def first_layer() -> None:
        evaluated["first"] += 1
        reached.set()
        release.wait(30)  # hold the model thread inside the chunk until the turn is cancelled

    def last_layer() -> None:
        evaluated["last"] += 1

    make = engine._new_cache

    def wired() -> SessionCache:
        entry = make()
        layers = entry.parts[0].layers
        layers[0], layers[-1] = _Tripwire(layers[0], first_layer), _Tripwire(layers[-1], last_layer)
        return entry

    engine._new_cache = wired  # type: ignore[method-assign]
    assert engine._caches is not None
    engine._caches._factory = wired
    task = asyncio.create_task(make_agent(backend, "s1").run(LONG, model_settings={"max_tokens": 1}))
    assert await asyncio.to_thread(reached.wait, 30)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    release.set()
    for _ in range(6000):  # a guard against hanging, not a timing assertion
        if await engine.idle():
            break
        await asyncio.sleep(0.01)
    stats = engine.history[-1]

    assert stats.finish == "cancelled"
    assert evaluated == {"first": 1, "last": 0}  # stopped after the first layer, inside the first chunk
    assert stats.prefilled_tokens == 0 and stats.generated_tokens == 0


def test_warm_up_plan_warms_a_full_chunk_on_cuda_only() -> None:
    assert plan(2048, cuda=True) == (2048 + 33, 2048)
    assert plan(2048, cuda=False) == (64 + 33, 64)
    assert plan(16, cuda=False) == (16 + 9, 16)


def test_warm_up_reports_measured_progress(model_dirs: dict[str, Path]) -> None:
    from mlx_lm.models.cache import make_prompt_cache

    loaded = load_model(str(model_dirs["random"]), None, lambda progress: None)
    reports: list[LoadProgress] = []
    caches: list[SessionCache] = []

    def new_cache() -> SessionCache:
        caches.append(SessionCache([CachePart(list(make_prompt_cache(loaded.model)), list)]))
        return caches[-1]

    warm_up(loaded, new_cache, 64, Sampling(max_tokens=1, temperature=0.7), 3, reports.append)

    assert {r.stage for r in reports} == {STAGE} and len(caches) == 1
    total = reports[0].total
    assert reports[0].done == 0 and total == prefill_quanta(loaded, caches[0], 97, 64) + DECODE_TOKENS
    assert [r.done for r in reports] == list(range(total + 1))
    assert reports[-1].describe("tiny") == "Loading tiny: warming up 100%"
    assert caches[0].parts[0].offset == 97 + DECODE_TOKENS  # the whole prompt, then what was decoded


async def test_warm_up_runs_once_per_load_before_ready(model_dirs: dict[str, Path]) -> None:
    backend = MlxBackend(str(model_dirs["random"]), Settings())
    stages: list[str] = []
    backend.engine._report = lambda progress: stages.append(progress.stage)  # type: ignore[method-assign]
    seen: list[str] = []

    async def record(text: str) -> None:
        seen.append(text)

    try:
        await backend.ensure_ready(record)
        assert backend.engine.warmups == 1 and STAGE in stages
        assert stages.index(STAGE) > stages.index("reading model weights")  # after the weights, before ready
        for session in ("s1", "s2"):
            await make_agent(backend, session).run("hi", model_settings={"max_tokens": 2})
        assert backend.engine.warmups == 1
        assert await backend.engine.cached_sessions() == ["s1", "s2"]  # the warm-up's cache is no session's
    finally:
        await backend.aclose()


def test_step_pace_is_the_slowest_step_per_token_and_ignores_layer_zero() -> None:
    tuning = PrefillTuning(step=2048, target_s=0.02)
    tuning.start_chunk(0)
    assert tuning.layers(0, 2048, 48) == 1  # nothing measured yet
    tuning.observe(0, 0, 1, 2048, 0.0015)  # layer 0 alone: cheap by construction, no measure
    assert tuning.layers(0, 2048, 47) == 1
    tuning.observe(0, 1, 1, 2048, 0.033)  # a MoE layer of a full chunk
    assert tuning.layers(0, 2048, 46) == 1
    tuning.start_chunk(0)  # the next chunk starts from the last one's slowest layer
    assert tuning.layers(0, 2048, 48) == 1
    assert tuning.layers(0, 64, 48) == 19  # a short chunk: 19 layers of 64 tokens at 33 ms / 2048 ≈ 20 ms
    assert tuning.layers(1, 2048, 24) == 1  # a draft model has its own measure

    fast = PrefillTuning(step=2048, target_s=0.02)
    fast.start_chunk(0)
    fast.observe(0, 1, 1, 2048, 0.001)
    assert fast.layers(0, 2048, 26) == 20
    fast.observe(0, 2, 20, 2048, 0.02 * 20)  # a spike while nothing else is known: believed
    assert fast.layers(0, 2048, 6) == 1


def test_a_one_time_spike_does_not_shrink_the_steps_that_follow() -> None:
    tuning = PrefillTuning(step=2048, target_s=0.02)
    tuning.start_chunk(0)
    tuning.observe(0, 1, 20, 2048, 0.02)  # a 1 ms layer, 20 of them in a 20 ms step
    tuning.start_chunk(0)
    assert tuning.layers(0, 2048, 28) == 20  # the last chunk's pace
    tuning.observe(0, 0, 20, 2048, 0.02 + 0.06)  # the same step plus a new shape's 60 ms graph build
    assert tuning.layers(0, 2048, 8) == 8  # still the usual step, not 28 single layers
    tuning.start_chunk(0)
    assert tuning.layers(0, 2048, 28) == 5  # the spiked chunk's 4 ms a layer, until this chunk's own is measured
    tuning.observe(0, 0, 4, 2048, 0.004)
    assert tuning.layers(0, 2048, 24) == 20


def test_a_pace_that_really_changes_is_followed_within_a_chunk() -> None:
    tuning = PrefillTuning(step=2048, target_s=0.02)
    tuning.start_chunk(0)
    tuning.observe(0, 1, 20, 2048, 0.02)
    tuning.start_chunk(0)
    tuning.observe(0, 0, 20, 2048, 0.2)  # ten times slower from here on (another process took the GPU)
    tuning.start_chunk(0)
    tuning.observe(0, 0, 2, 2048, 0.02)
    assert tuning.layers(0, 2048, 26) == 2  # both chunks say 10 ms a layer now


async def test_a_prefill_step_of_zero_is_chosen_for_the_device_once_loaded(
    model_dirs: dict[str, Path], make_backend: MakeBackend
) -> None:
    assert MlxBackend("unused", Settings(prefill_step_size=0)).engine.prefill.step == DEFAULT_PREFILL_STEP
    backend = await make_backend(model_dirs["random"], prefill_step_size=0)
    assert backend.engine.prefill.step == device_prefill_step()
