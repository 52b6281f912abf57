"""Per-session KV caches: reuse across turns, LRU eviction, sessions sharing one model thread."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from pydantic_ai.messages import PartDeltaEvent, PartStartEvent
from pydantic_ai.settings import ModelSettings

from punie_acp.models.mlx.cache import PromptCacheStore, SessionCache
from tests.mlx.agents import Tools, make_agent, stream_run
from tests.mlx.conftest import ANSWER, MakeBackend

pytestmark = pytest.mark.anyio


async def test_later_requests_prefill_only_the_new_tokens(
    model_dirs: dict[str, Path], make_backend: MakeBackend
) -> None:
    backend = await make_backend(model_dirs["json"])
    agent = make_agent(backend, "s1", Tools())
    first = await stream_run(agent, "What do my notes say?")
    call, answer = backend.engine.history[0], backend.engine.history[1]

    # Request 2 of the tool loop: everything the model saw and wrote is reused, only the tool
    # result and the new generation prompt run through the model.
    assert call.cached_tokens == 0 and call.prefilled_tokens == call.prompt_tokens
    assert answer.cached_tokens == call.prompt_tokens + call.generated_tokens
    assert answer.prefilled_tokens == answer.prompt_tokens - answer.cached_tokens
    assert answer.prefilled_tokens < 40

    # A new user turn: the template drops old reasoning, so the prefix ends inside the first reply.
    await stream_run(agent, "And the other notes?", first.result.all_messages())
    turn = backend.engine.history[-1]
    assert turn.cached_tokens >= call.prompt_tokens
    assert turn.prefilled_tokens == turn.prompt_tokens - turn.cached_tokens

    # The same request on a session without a cache prefills everything.
    await stream_run(make_agent(backend, "fresh", Tools()), "And the other notes?", first.result.all_messages())
    cold = backend.engine.history[-1]
    assert cold.prompt_tokens == turn.prompt_tokens and cold.cached_tokens == 0
    assert turn.prefilled_tokens * 4 < cold.prefilled_tokens


async def test_least_recently_used_session_cache_is_evicted(
    model_dirs: dict[str, Path], make_backend: MakeBackend
) -> None:
    backend = await make_backend(model_dirs["direct"], max_cached_sessions=2)
    histories = {}
    for sid in ("a", "b", "c"):
        histories[sid] = (await stream_run(make_agent(backend, sid), "hi")).result.all_messages()
    assert await backend.engine.cached_sessions() == ["b", "c"]

    await stream_run(make_agent(backend, "a"), "again", histories["a"])
    assert backend.engine.history[-1].cached_tokens == 0  # evicted: starts from scratch
    await stream_run(make_agent(backend, "c"), "again", histories["c"])
    assert backend.engine.history[-1].cached_tokens > 0
    assert await backend.engine.cached_sessions() == ["a", "c"]

    backend.forget_session("a")
    assert await backend.engine.cached_sessions() == ["c"]


async def test_two_sessions_share_one_model(model_dirs: dict[str, Path], make_backend: MakeBackend) -> None:
    backend = await make_backend(model_dirs["json"])
    tools = {"alpha": Tools(), "beta": Tools()}
    runs = await asyncio.gather(
        *(stream_run(make_agent(backend, sid, tools[sid]), "What do my notes say?") for sid in tools)
    )
    assert [r.result.output for r in runs] == ["".join(ANSWER)] * 2
    assert all(t.calls == [{"path": "notes.txt", "limit": 0}] for t in tools.values())
    assert sorted(await backend.engine.cached_sessions()) == ["alpha", "beta"]
    for sid in tools:
        call, answer = [s for s in backend.engine.history if s.session_id == sid]
        assert answer.cached_tokens == call.prompt_tokens + call.generated_tokens  # caches did not mix


async def test_a_second_session_is_served_while_the_first_is_still_generating(
    model_dirs: dict[str, Path], make_backend: MakeBackend
) -> None:
    backend = await make_backend(model_dirs["random"])
    tokenizer = backend.engine.loaded.tokenizer  # type: ignore[union-attr]
    no_stop = {str(t): -100 for t in tokenizer.eos_token_ids}
    long_settings = ModelSettings(max_tokens=3000, temperature=1.0, seed=1, logit_bias=no_stop)
    streaming = asyncio.Event()

    async def long_run() -> None:
        async with make_agent(backend, "long").run_stream_events("go", model_settings=long_settings) as events:
            async for event in events:
                if isinstance(event, PartStartEvent | PartDeltaEvent):
                    streaming.set()

    long_task = asyncio.create_task(long_run())
    await streaming.wait()
    short = await stream_run(make_agent(backend, "short"), "quick", model_settings={"max_tokens": 5})

    assert short.responses()[0].usage.output_tokens == 5
    assert not long_task.done()  # round-robin: the short reply did not wait for 3000 tokens
    assert [s.session_id for s in backend.engine.history] == ["short"]
    long_task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await long_task


def test_cache_store_evicts_least_recent_but_never_a_busy_cache() -> None:
    store = PromptCacheStore(2, lambda: SessionCache([]))
    store.get("a").busy = True
    store.get("b")
    store.get("c")
    assert store.sessions() == ["a", "c"]  # "b" went, "a" is mid-generation
    store.forget("a")
    assert "a" in store  # forgotten once its generation ends
    store.release("a")
    assert store.sessions() == ["c"]
    assert store.evictions == 1
