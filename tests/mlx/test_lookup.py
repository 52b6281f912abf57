"""Prompt-lookup decoding on real mlx-lm models: the same tokens as plain decoding, fewer passes.

Each case runs one backend with lookup and one without on the same token prompt (rendered by a
`render` that returns fixed ids, so the prompt is exactly what the case needs) and compares what
the engine generated token by token, where it stopped and why, and what the session's KV cache
holds afterwards (its tokens and its keys).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from punie_acp.models.mlx import MlxBackend
from punie_acp.models.mlx.cache import cache_offset
from punie_acp.models.mlx.jobs import (
    Finished,
    GenerationRequest,
    JobStats,
    RenderedPrompt,
    Sampling,
    Text,
)
from tests.mlx.conftest import DIRECT, JSON_FIRST, MakeBackend

pytestmark = pytest.mark.anyio


@dataclass
class Outcome:
    generated: list[int]
    text: str
    stats: JobStats
    cache_tokens: int  # what the session's KV cache holds
    keys: np.ndarray  # layer 0's keys for those tokens


async def generate(backend: MlxBackend, session: str, prompt: list[int], sampling: Sampling) -> Outcome:
    engine = backend.engine
    handle = engine.submit(GenerationRequest(session, lambda tokenizer: RenderedPrompt(list(prompt), ""), sampling))
    text: list[str] = []
    async for batch in handle.batches():
        text += [event.text for event in batch if isinstance(event, Text)]
        stats = next((e.stats for e in batch if isinstance(e, Finished)), None)
    assert stats is not None

    def cached() -> tuple[list[int], int, np.ndarray]:
        entry = engine._caches.get(session)  # type: ignore[union-attr]
        offset = cache_offset(entry.layers)
        import mlx.core as mx

        keys = np.array(entry.layers[0].state[0][..., :offset, :].astype(mx.float32))
        return list(entry.tokens), offset, keys

    tokens, offset, keys = await engine.call(cached)
    assert tokens[: len(prompt)] == prompt
    return Outcome(tokens[len(prompt) :], "".join(text), stats, offset, keys)


def ids(backend: MlxBackend, text: str) -> list[int]:
    assert backend.engine.loaded is not None
    return [int(t) for t in backend.engine.loaded.tokenizer.encode(text, add_special_tokens=False)]


def special(backend: MlxBackend, token: str) -> int:
    assert backend.engine.loaded is not None
    return int(backend.engine.loaded.tokenizer.convert_tokens_to_ids(token))


def chat(backend: MlxBackend, user: str) -> list[int]:
    """A rendered one-message chat ending with the generation prompt (the scripts' trigger)."""
    assert backend.engine.loaded is not None
    tokenizer = backend.engine.loaded.tokenizer
    rendered = tokenizer.apply_chat_template([{"role": "user", "content": user}], add_generation_prompt=True)
    return [int(t) for t in rendered]


async def both(path: Path, make_backend: MakeBackend, **settings: Any) -> tuple[MlxBackend, MlxBackend]:
    plain = await make_backend(path, prompt_lookup=False, **settings)
    lookup = await make_backend(path, prompt_lookup=True, **settings)
    return plain, lookup


async def compare(
    plain: MlxBackend, lookup: MlxBackend, session: str, prompt: list[int], sampling: Sampling
) -> Outcome:
    expected = await generate(plain, session, prompt, sampling)
    got = await generate(lookup, session, prompt, sampling)
    assert got.generated == expected.generated
    assert got.text == expected.text
    assert (got.stats.finish, got.stats.generated_tokens) == (expected.stats.finish, expected.stats.generated_tokens)
    assert expected.cache_tokens - 1 <= got.cache_tokens <= expected.cache_tokens
    n = got.cache_tokens
    np.testing.assert_allclose(got.keys, expected.keys[..., :n, :], atol=1e-4)
    assert plain.engine.history[-1].drafted_tokens == 0
    return got


GREEDY = Sampling(max_tokens=64)


async def test_copied_reply_is_drafted_and_identical_and_stops_inside_a_draft(
    model_dirs: dict[str, Path], make_backend: MakeBackend
) -> None:
    plain, lookup = await both(model_dirs["direct"], make_backend)
    # The user message quotes the reply; `<|im_end|>` follows it there, so the draft that copies
    # the reply's end carries the stop token too: output must end exactly where plain decoding does.
    got = await compare(plain, lookup, "s", chat(plain, DIRECT.text), GREEDY)
    assert got.text == DIRECT.text and got.stats.finish == "stop"
    stats = lookup.engine.history[-1]
    assert stats.accepted_tokens >= len(DIRECT.pieces) - 3
    assert stats.verifications < stats.generated_tokens - 2  # fewer passes than tokens

    # Next turn on the same session: the cache is reused and the reply is the same again.
    second = chat(plain, DIRECT.text) + got.generated + ids(plain, "\n") + chat(plain, "again")
    again = await compare(plain, lookup, "s", second, GREEDY)
    assert again.text == DIRECT.text
    assert lookup.engine.history[-1].cached_tokens == plain.engine.history[-1].cached_tokens


async def test_partly_matching_drafts_keep_the_models_tokens(
    model_dirs: dict[str, Path], make_backend: MakeBackend
) -> None:
    plain, lookup = await both(model_dirs["direct"], make_backend)
    # The quoted version differs in the middle: the draft is cut there and the model's token wins.
    quoted = DIRECT.text.replace(" tiny", " small")
    got = await compare(plain, lookup, "s", chat(plain, quoted), GREEDY)
    assert got.text == DIRECT.text
    stats = lookup.engine.history[-1]
    assert 0 < stats.accepted_tokens < stats.drafted_tokens


async def test_nothing_to_copy_means_no_drafts(model_dirs: dict[str, Path], make_backend: MakeBackend) -> None:
    plain, lookup = await both(model_dirs["direct"], make_backend)
    got = await compare(plain, lookup, "s", chat(plain, "Tell me about yourself."), GREEDY)
    assert got.text == DIRECT.text
    assert lookup.engine.history[-1].drafted_tokens == 0


async def test_tool_call_copied_from_context_parses_the_same(
    model_dirs: dict[str, Path], make_backend: MakeBackend
) -> None:
    plain, lookup = await both(model_dirs["json"], make_backend)
    got = await compare(plain, lookup, "s", chat(plain, "Earlier you said: " + JSON_FIRST.text), GREEDY)
    assert got.text == JSON_FIRST.text and got.stats.finish == "stop"
    assert lookup.engine.history[-1].accepted_tokens > 0


@pytest.mark.parametrize("max_tokens", [1, 2, 5, 7])
async def test_max_tokens_is_exact(model_dirs: dict[str, Path], make_backend: MakeBackend, max_tokens: int) -> None:
    plain, lookup = await both(model_dirs["direct"], make_backend)
    got = await compare(plain, lookup, "s", chat(plain, DIRECT.text), Sampling(max_tokens=max_tokens))
    assert len(got.generated) == max_tokens and got.stats.finish == "length"


async def test_random_model_greedy_identical_with_its_own_repeats(
    model_dirs: dict[str, Path], make_backend: MakeBackend
) -> None:
    """A random model soon repeats itself: drafts from its own output are partly right."""
    plain, lookup = await both(model_dirs["random"], make_backend)
    tokens_in_prompt = ids(plain, "def read(path): return open(path).read() # read the path and return the text")
    for n, prompt in enumerate([tokens_in_prompt, tokens_in_prompt * 3, chat(plain, "Write a story.")]):
        await compare(plain, lookup, f"s{n}", prompt, Sampling(max_tokens=160))
    drafted = sum(s.drafted_tokens for s in lookup.engine.history)
    assert drafted > 0


async def test_penalties_and_bias_give_the_same_tokens(model_dirs: dict[str, Path], make_backend: MakeBackend) -> None:
    plain, lookup = await both(model_dirs["random"], make_backend)
    prompt = ids(plain, "return the path of the file and the text of the file") * 4
    bias = {ids(plain, " the")[0]: 2.0}
    sampling = Sampling(max_tokens=96, presence_penalty=0.5, frequency_penalty=0.3, logit_bias=bias)
    await compare(plain, lookup, "s", prompt, sampling)


async def test_repetition_guard_trips_at_the_same_token(model_dirs: dict[str, Path], make_backend: MakeBackend) -> None:
    plain, lookup = await both(model_dirs["looping"], make_backend)
    got = await compare(plain, lookup, "s", chat(plain, "Say it."), Sampling(max_tokens=1000))
    assert got.stats.finish == "repetition"
    assert lookup.engine.history[-1].accepted_tokens > 50  # the loop is what lookup predicts best


async def test_cancel_mid_decode_stops_within_a_step(model_dirs: dict[str, Path], make_backend: MakeBackend) -> None:
    # A 70-piece loop: lookup drafts it all once it has been said once; the guard lets it be.
    backend = await make_backend(model_dirs["endless"], prompt_lookup=True)
    prompt = chat(backend, "Go.")
    handle = backend.engine.submit(GenerationRequest("s", lambda t: RenderedPrompt(prompt, ""), Sampling(100_000)))
    seen = 0
    async for batch in handle.batches():
        seen += sum(isinstance(e, Text) for e in batch)
        if seen >= 300:
            handle.cancel()
    stats = backend.engine.history[-1]
    assert stats.finish == "cancelled"
    assert stats.tokens_after_stop <= 1  # the stop flag is still checked before every token
    assert stats.accepted_tokens > 150 and stats.generated_tokens < 100_000


async def test_draft_model_is_used_instead_of_lookup(model_dirs: dict[str, Path], make_backend: MakeBackend) -> None:
    path = model_dirs["direct"]
    backend = await make_backend(path, prompt_lookup=True, draft_model=str(path), num_draft_tokens=2)
    got = await generate(backend, "s", chat(backend, DIRECT.text), GREEDY)
    assert got.text == DIRECT.text
    assert backend.engine.history[-1].drafted_tokens == 0


async def test_two_sessions_interleave_with_lookup(model_dirs: dict[str, Path], make_backend: MakeBackend) -> None:
    plain, lookup = await both(model_dirs["direct"], make_backend)
    prompts = {"a": chat(plain, DIRECT.text), "b": chat(plain, "nothing here")}
    expected = {s: (await generate(plain, s, p, GREEDY)).generated for s, p in prompts.items()}
    got = await asyncio.gather(*(generate(lookup, s, p, GREEDY) for s, p in prompts.items()))
    assert [g.generated for g in got] == list(expected.values())


async def test_plain_attention_for_verification_gives_the_same_tokens(
    model_dirs: dict[str, Path], make_backend: MakeBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The matmul attention used for verification on CUDA agrees with mlx's fused attention."""
    from punie_acp.models.mlx import verify

    monkeypatch.setattr(verify, "VERIFY_ATTENTION", "plain")
    plain, lookup = await both(model_dirs["random"], make_backend)
    prompt = ids(plain, "def read(path): return open(path).read() # read the path and return the text") * 2
    await compare(plain, lookup, "s", prompt, Sampling(max_tokens=160))
    assert lookup.engine.history[-1].accepted_tokens > 0
