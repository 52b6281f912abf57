"""The job handle's hand-off to the event loop: batches, their pacing, and joined text."""

from __future__ import annotations

import asyncio

import pytest

from punie_acp.models.mlx.jobs import (
    Finished,
    GenerationRequest,
    JobEvent,
    JobHandle,
    JobStats,
    Prompted,
    RenderedPrompt,
    Sampling,
    Text,
    coalesced,
)

pytestmark = pytest.mark.anyio

PROMPTED = Prompted(RenderedPrompt([1, 2], "hi"), 2, 0)


def make_handle() -> JobHandle:
    request = GenerationRequest("s1", lambda tokenizer: RenderedPrompt([1, 2], "hi"), Sampling(max_tokens=8))
    return JobHandle(request, asyncio.get_running_loop(), lambda: None)


def test_coalesced_joins_runs_of_text_only() -> None:
    done = Finished(JobStats("s1"))
    batch: list[JobEvent] = [PROMPTED, Text("a"), Text("b"), Text("c"), done]
    assert coalesced(batch) == [PROMPTED, Text("abc"), done]
    assert coalesced([Text("a")]) == [Text("a")]
    assert coalesced([]) == []


async def test_text_after_text_waits_the_interval_and_arrives_joined() -> None:
    handle = make_handle()
    batches = handle.batches(min_interval=0.3)
    handle.put(PROMPTED)
    handle.put(Text("first"))
    loop = asyncio.get_running_loop()
    assert await anext(batches) == [PROMPTED, Text("first")]  # the first text is never held back
    handed = loop.time()
    for piece in ("a", "b", "c"):  # tokens that come while the consumer waits
        handle.put(Text(piece))
    batch = await asyncio.wait_for(anext(batches), 5)
    assert loop.time() - handed >= 0.25
    assert coalesced(batch) == [Text("abc")]


async def test_the_end_of_the_job_cuts_the_wait_short() -> None:
    handle = make_handle()
    batches = handle.batches(min_interval=60.0)
    handle.put(Text("first"))
    assert await anext(batches) == [Text("first")]
    handle.put(Text("last"))
    done = Finished(JobStats("s1"))
    handle.end(done)
    assert await asyncio.wait_for(anext(batches), 5) == [Text("last"), done]  # not a minute later
    with pytest.raises(StopAsyncIteration):
        await anext(batches)


async def test_no_interval_hands_over_every_batch_at_once() -> None:
    handle = make_handle()
    batches = handle.batches()
    handle.put(Text("a"))
    assert await anext(batches) == [Text("a")]
    handle.put(Text("b"))
    assert await asyncio.wait_for(anext(batches), 5) == [Text("b")]
