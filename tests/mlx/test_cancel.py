"""Cancelling the task that runs a turn stops the model thread mid-prefill or mid-decode."""

from __future__ import annotations

import asyncio
import threading
from functools import partial
from pathlib import Path

import pytest
from pydantic_ai.messages import PartDeltaEvent, PartStartEvent
from pydantic_ai.settings import ModelSettings

from punie_acp.models.mlx import MlxBackend
from punie_acp.models.mlx.chat import render_prompt
from punie_acp.models.mlx.jobs import Finished, GenerationRequest, JobStats, Sampling
from tests.mlx.agents import make_agent, stream_run
from tests.mlx.conftest import MakeBackend

pytestmark = pytest.mark.anyio


async def _wait_idle(backend: MlxBackend) -> JobStats:
    for _ in range(6000):  # a guard against hanging, not a timing assertion
        if await backend.engine.idle():
            return backend.engine.history[-1]
        await asyncio.sleep(0.01)
    raise AssertionError("the model thread never became idle")


async def _still_serves(backend: MlxBackend) -> None:
    run = await stream_run(make_agent(backend, "after"), "still there?", model_settings={"max_tokens": 4})
    assert run.responses()[0].usage.output_tokens > 0
    assert backend.engine.history[-1].finish in ("stop", "length")


def _banned(backend: MlxBackend) -> set[int]:
    """Stop tokens and markup tokens, so a random-weight model just keeps talking."""
    tokenizer = backend.engine.loaded.tokenizer  # type: ignore[union-attr]
    return set(tokenizer.eos_token_ids) | set(tokenizer.added_tokens_decoder)


def _quiet_sampling(backend: MlxBackend) -> ModelSettings:
    bias = {str(t): -100 for t in _banned(backend)}
    return ModelSettings(max_tokens=3000, temperature=1.0, seed=3, logit_bias=bias)


async def test_cancel_during_prefill(model_dirs: dict[str, Path], make_backend: MakeBackend) -> None:
    backend = await make_backend(model_dirs["random"], prefill_step=16)
    reached, release = threading.Event(), threading.Event()

    def hold_first_chunk(stats: JobStats) -> None:  # runs on the model thread
        if not reached.is_set():
            reached.set()
            release.wait(30)

    backend.engine.on_prefill_chunk = hold_first_chunk
    task = asyncio.create_task(make_agent(backend, "s1").run("read this " * 200))
    assert await asyncio.to_thread(reached.wait, 30)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    release.set()
    stats = await _wait_idle(backend)

    assert stats.finish == "cancelled"
    assert stats.prefilled_tokens == 16  # stopped after the chunk that was running
    assert stats.prompt_tokens > 400 and stats.generated_tokens == 0
    backend.engine.on_prefill_chunk = None
    await _still_serves(backend)


async def test_cancel_during_decode(model_dirs: dict[str, Path], make_backend: MakeBackend) -> None:
    backend = await make_backend(model_dirs["random"])
    streaming = asyncio.Event()

    async def consume() -> None:
        agent = make_agent(backend, "s1")
        async with agent.run_stream_events("go on", model_settings=_quiet_sampling(backend)) as events:
            async for event in events:
                if isinstance(event, PartStartEvent | PartDeltaEvent):
                    streaming.set()

    task = asyncio.create_task(consume())
    await streaming.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    stats = await _wait_idle(backend)

    assert stats.finish == "cancelled"
    assert stats.tokens_after_stop <= 1  # the thread stopped within one token of the flag
    assert 0 < stats.generated_tokens < 3000
    await _still_serves(backend)


async def test_cancelled_queued_work_never_runs(model_dirs: dict[str, Path], make_backend: MakeBackend) -> None:
    backend = await make_backend(model_dirs["random"])
    render = partial(render_prompt, messages=[{"role": "user", "content": "hi"}], tools=[])
    bias = {t: -100.0 for t in _banned(backend)}
    sampling = Sampling(max_tokens=3000, temperature=1.0, seed=3, logit_bias=bias)
    running = backend.engine.submit(GenerationRequest("s1", render, sampling))
    queued = backend.engine.submit(GenerationRequest("s1", render, Sampling(max_tokens=5)))  # same session: waits
    queued.cancel()
    running.cancel()
    await queued.wait_done()
    await running.wait_done()

    events = [event async for batch in queued.batches() for event in batch]
    assert [type(e) for e in events] == [Finished]
    assert queued.stats.finish == "cancelled" and queued.stats.prompt_tokens == 0  # never rendered
    assert running.stats.finish == "cancelled"
