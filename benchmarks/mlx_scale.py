"""GPU-shaped models (`scale_models.py`) measured beside bare mlx-lm, for `mlx_backend.py --scale`.

Decoding samples (temperature 1, seeded) in punie and bare alike, so the repetition guard has
nothing to catch.
"""

from __future__ import annotations

import asyncio
import functools
import itertools
import random
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic_ai import Agent
from pydantic_ai.messages import PartDeltaEvent, PartStartEvent
from pydantic_ai.settings import ModelSettings

from benchmarks import tool_turns
from benchmarks.scale_models import DENSE, MOE, fabricate
from punie_acp.config import Settings
from punie_acp.models.mlx import MlxBackend
from punie_acp.models.mlx.jobs import JobStats
from punie_acp.models.mlx.loading import LoadProgress

TEMPERATURE, SEED = 1.0, 7
Row = tuple[str, str, str, str, str]


def long_prompt(backend: MlxBackend, tokens: int, salt: int) -> str:
    """A user message of about `tokens` tokens; `salt` makes each differ from the first token on."""
    assert backend.engine.loaded is not None
    encode = backend.engine.loaded.tokenizer.encode

    def text(words: int) -> str:
        return f"Request {salt}. " + " ".join(f"item{(i * 7 + salt) % 997}" for i in range(words))

    per_word = len(encode(text(400))) / 400
    return text(int(tokens / per_word))


@dataclass
class Ttft:
    """One prompt's time to first token through an Agent, and where it went (seconds)."""

    total: float
    prompt_tokens: int
    to_first_chunk: float  # to the end of the first prefill chunk
    before_submit: float  # PydanticAI's run and MlxModel building the request
    stats: JobStats  # the model thread's side: queued, render, prefill, first token

    @property
    def after_model_thread(self) -> float:
        """From the first token on the model thread to the consumer's event."""
        return self.total - self.before_submit - self.stats.queued_s - self.stats.first_token_s


async def punie_ttft(backend: MlxBackend, session: str, prompt: str) -> Ttft:
    engine = backend.engine
    chunks: list[float] = []
    submitted: list[float] = []
    submit = engine.submit

    def recording_submit(request: Any) -> Any:
        handle = submit(request)
        submitted.append(handle.submitted_at)
        return handle

    engine.on_prefill_chunk = lambda stats: chunks.append(time.perf_counter())
    engine.submit = recording_submit  # type: ignore[method-assign]
    settings = ModelSettings(max_tokens=1, temperature=TEMPERATURE, seed=SEED)
    started = time.perf_counter()
    first = 0.0
    try:
        async with Agent(backend.model_for(session)).run_stream_events(prompt, model_settings=settings) as events:
            async for event in events:
                if isinstance(event, PartStartEvent | PartDeltaEvent) and not first:
                    first = time.perf_counter() - started
    finally:
        engine.submit, engine.on_prefill_chunk = submit, None  # type: ignore[method-assign]
    first = first or time.perf_counter() - started  # a first token that was a stop token shows no text
    backend.forget_session(session)
    stats = engine.history[-1]
    to_chunk = chunks[0] - started if chunks else 0.0
    return Ttft(first, stats.prompt_tokens, to_chunk, submitted[0] - started, stats)


async def settled(backend: MlxBackend, limit_s: float = 120.0) -> float:
    """Wait until the engine's idle work (CUDA graph builds) is done, as it is for a user a few
    seconds after loading; seconds waited."""
    started = time.perf_counter()
    while backend.engine.idle_work is not None and time.perf_counter() - started < limit_s:  # noqa: ASYNC110
        await asyncio.sleep(0.1)  # the model thread sets nothing to wait on: poll
    return time.perf_counter() - started


BARE_PARTS: list[tuple[float, float, float]] = []  # bare_ttft's (template, prefill, first token) seconds


def bare_ttft(backend: MlxBackend, prompt: str) -> tuple[float, int]:
    """The same prompt through `mlx_lm.stream_generate`; run it on the model thread (`engine.call`).
    Where the time went goes to `BARE_PARTS`."""
    from mlx_lm.generate import stream_generate
    from mlx_lm.sample_utils import make_sampler

    loaded = backend.engine.loaded
    assert loaded is not None
    progress: list[tuple[int, float]] = []
    started = time.perf_counter()  # from text, as punie's TTFT: the template and tokenizer count too
    ids = loaded.tokenizer.apply_chat_template([{"role": "user", "content": prompt}], add_generation_prompt=True)
    templated = time.perf_counter()

    def report(done: int, total: int) -> None:
        progress.append((done, time.perf_counter()))

    for _ in stream_generate(loaded.model, loaded.tokenizer, ids, max_tokens=1, sampler=make_sampler(temp=1.0),
                             prompt_progress_callback=report):  # fmt: skip
        break
    first = time.perf_counter()
    # mlx-lm reports after each prefill chunk and once more with the first token: the one before is the prefill's end
    prefilled = progress[-2][1] if len(progress) > 1 else templated
    BARE_PARTS.append((templated - started, prefilled - templated, first - prefilled))
    return first - started, len(ids)


def bare_decode(backend: MlxBackend, tokens: int) -> float:
    from mlx_lm.generate import stream_generate
    from mlx_lm.sample_utils import make_sampler

    loaded = backend.engine.loaded
    assert loaded is not None
    ids = loaded.tokenizer.apply_chat_template([{"role": "user", "content": "Count."}], add_generation_prompt=True)
    sampler = make_sampler(temp=1.0)
    stamps = [time.perf_counter() for _ in stream_generate(loaded.model, loaded.tokenizer, ids, max_tokens=tokens,
                                                           sampler=sampler)]  # fmt: skip
    return (len(stamps) - 1) / (stamps[-1] - stamps[0])


async def punie_decode(backend: MlxBackend, session: str, prompt: str, settings: ModelSettings) -> float:
    """Decode tokens/s at an Agent's consumer: the tokens after the first, from the first text
    event to the last (text arrives a few tokens an event, `model.STREAM_INTERVAL_S`; the first
    token comes alone and the last event as soon as the reply ends)."""
    stamps: list[float] = []
    async with Agent(backend.model_for(session)).run_stream_events(prompt, model_settings=settings) as events:
        async for event in events:
            if isinstance(event, PartStartEvent | PartDeltaEvent):
                stamps.append(time.perf_counter())
    backend.forget_session(session)
    generated = backend.engine.history[-1].generated_tokens
    assert len(stamps) > 1, "the reply must stream"
    return (generated - 1) / (stamps[-1] - stamps[0])


async def engine_decode(backend: MlxBackend, session: str, prompt: str, tokens: int) -> float:
    """Decode tokens/s at the engine's own consumer (`JobHandle.batches`, unpaced, no PydanticAI):
    what the model thread delivers before any per-event work on the event loop (greedy)."""
    from functools import partial

    from punie_acp.models.mlx.chat import render_prompt
    from punie_acp.models.mlx.jobs import GenerationRequest, Sampling, Text

    render = partial(render_prompt, messages=[{"role": "user", "content": prompt}], tools=[])
    handle = backend.engine.submit(GenerationRequest(session, render, Sampling(max_tokens=tokens)))
    stamps = [time.perf_counter() async for batch in handle.batches() for event in batch if isinstance(event, Text)]
    backend.forget_session(session)
    assert len(stamps) > 1, "the reply must stream"
    return (handle.stats.generated_tokens - 1) / (stamps[-1] - stamps[0])


async def ttft(name: str, backend: MlxBackend, tokens: int, repeats: int) -> list[Row]:
    """TTFT and prefill rate, each beside bare mlx-lm (the first prompt: `first_prompt`), and where
    punie's time went.

    Bare runs on punie's model thread (`engine.call`), interleaved with punie, on prompts of the
    same length but different text, each in a fresh session (the whole prompt is prefilled).
    """
    engine = backend.engine
    punie: list[Ttft] = []
    bare: list[float] = []
    n_bare = 0
    for i in range(repeats):
        punie.append(await punie_ttft(backend, f"warm{i}", long_prompt(backend, tokens, i + 1)))
        prompt = long_prompt(backend, tokens, 100 + i)
        seconds, n_bare = await engine.call(functools.partial(bare_ttft, backend, prompt))
        bare.append(seconds)
    p, b, n_punie = statistics.median(t.total for t in punie), statistics.median(bare), punie[-1].prompt_tokens
    assert engine.loaded is not None
    layers, step = len(engine.loaded.model.layers), engine.prefill.step

    def ms(part: Callable[[Ttft], float]) -> str:
        return f"{statistics.median(part(t) for t in punie) * 1000:.1f}"

    parts = (f"before submit {ms(lambda t: t.before_submit)}, queued {ms(lambda t: t.stats.queued_s)}, "
             f"render {ms(lambda t: t.stats.render_s)}, prefill {ms(lambda t: t.stats.prefill_s)}, "
             f"first token {ms(lambda t: t.stats.first_token_s - t.stats.render_s - t.stats.prefill_s)}, "
             f"to the consumer {ms(lambda t: t.after_model_thread)}")  # fmt: skip
    bare_parts = BARE_PARTS[-repeats:]
    template, prefill, first_token = (statistics.median(p[i] for p in bare_parts) * 1000 for i in range(3))
    return [
        (f"{name}: TTFT, {n_punie}-token prompt (median of {repeats})", f"{p * 1000:.0f} ms",
         f"{b * 1000:.0f} ms bare stream_generate ({n_bare} tokens)", f"{p / b:.3f}x", "≤1.1x"),
        (f"{name}: where punie's TTFT went (ms, medians)", parts,
         f"bare: template {template:.1f}, prefill {prefill:.1f}, first token {first_token:.1f}", "-", "-"),
        (f"{name}: prefill tok/s", f"{n_punie / p:.0f}", f"{n_bare / b:.0f}", f"{(n_punie / p) / (n_bare / b):.3f}x",
         "-"),
        (f"{name}: one layer of a {step}-token chunk", f"{ms(lambda t: t.to_first_chunk / layers)} ms", "-", "-", "-"),
    ]  # fmt: skip


async def ttft_new_lengths(name: str, backend: MlxBackend, tokens: int, repeats: int) -> Row:
    """TTFT when every prompt has a length not seen before, as a user's prompts do (on CUDA each
    new key/value length costs a cuDNN graph build, in punie and bare mlx-lm alike)."""
    engine = backend.engine
    punie: list[float] = []
    bare: list[float] = []
    for i in range(repeats):
        measured = await punie_ttft(backend, f"new{i}", long_prompt(backend, tokens + 60 * i, 300 + 2 * i))
        punie.append(measured.total)
        prompt = long_prompt(backend, tokens + 60 * i + 30, 301 + 2 * i)
        seconds, _ = await engine.call(functools.partial(bare_ttft, backend, prompt))
        bare.append(seconds)
    p, b = statistics.median(punie) * 1000, statistics.median(bare) * 1000
    return (f"{name}: TTFT, a new ~{tokens}-token length each time (median of {repeats})", f"{p:.0f} ms",
            f"{b:.0f} ms bare stream_generate", f"{p / b:.3f}x", "≤1.1x")  # fmt: skip


async def decode(name: str, backend: MlxBackend, tokens: int, repeats: int) -> Row:
    punie, bare = [], []
    for i in range(repeats):
        settings = ModelSettings(max_tokens=tokens, temperature=TEMPERATURE, seed=SEED)
        punie.append(await punie_decode(backend, f"decode{i}", "Count.", settings))
        bare.append(await backend.engine.call(lambda: bare_decode(backend, tokens)))
    p, b = statistics.median(punie), statistics.median(bare)
    return (f"{name}: decode tok/s (median of {repeats})", f"{p:.1f}", f"{b:.1f} bare", f"{p / b:.3f}x", "≥0.97x")


async def cancel_once(
    backend: MlxBackend,
    session: str,
    prompt: str,
    phase: str,
    delay: float,
    *,
    nth: int | None = None,
    settings: ModelSettings | None = None,
) -> float:
    """Cancel a turn `delay` s after its nth prefill chunk (default 1st) or nth streamed token (default 3rd);
    seconds until the model thread let go."""
    nth = nth or (1 if phase == "prefill" else 3)
    settings = settings or ModelSettings(max_tokens=4000, temperature=TEMPERATURE, seed=SEED)
    engine, loop = backend.engine, asyncio.get_running_loop()
    reached, handles, submit = asyncio.Event(), [], engine.submit
    chunks = 0

    def recording_submit(request: Any) -> Any:
        handles.append(submit(request))
        return handles[-1]

    def on_chunk(stats: JobStats) -> None:  # model thread
        nonlocal chunks
        chunks += 1
        if chunks == nth:
            loop.call_soon_threadsafe(reached.set)

    async def run() -> None:
        async with Agent(backend.model_for(session)).run_stream_events(prompt, model_settings=settings) as events:
            seen = 0
            async for event in events:
                if isinstance(event, PartStartEvent | PartDeltaEvent):
                    seen += 1
                    if phase == "decode" and seen == nth:
                        reached.set()

    engine.submit = recording_submit  # type: ignore[method-assign]
    if phase == "prefill":
        engine.on_prefill_chunk = on_chunk
    task = asyncio.create_task(run())
    await reached.wait()
    await asyncio.sleep(delay)  # land anywhere inside a step, not just after one
    started = time.perf_counter()
    task.cancel()
    await handles[-1].wait_done()
    latency = time.perf_counter() - started
    await asyncio.gather(task, return_exceptions=True)
    engine.submit, engine.on_prefill_chunk = submit, None  # type: ignore[method-assign]
    backend.forget_session(session)
    return latency


async def cancel(name: str, backend: MlxBackend, tokens: int, repeats: int, per_token_ms: float) -> list[Row]:
    jitter = random.Random(0)
    rows: list[Row] = []
    for phase in ("prefill", "decode"):
        values = []
        for i in range(repeats):
            prompt = long_prompt(backend, tokens, 200 + i) if phase == "prefill" else "Tell me a story."
            values.append(await cancel_once(backend, f"c{phase}{i}", prompt, phase, jitter.uniform(0, 0.05)))
        values.sort()
        p50, p95 = statistics.median(values) * 1000, values[min(len(values) - 1, int(0.95 * len(values)))] * 1000
        unit = "one layer: see above" if phase == "prefill" else f"one token {per_token_ms:.0f} ms"
        rows.append((f"{name}: cancel mid-{phase} p50/p95 (n={repeats})", f"{p50:.0f} / {p95:.0f} ms", unit, "-",
                     "≤100 ms + one layer/token"))  # fmt: skip
    return rows


async def load(path: Path, warm_up: bool = True) -> MlxBackend:
    """Load with the sampler the benchmark uses as the default (the warm-up compiles that one).
    Plain decoding: these rows compare like for like with bare mlx-lm; prompt lookup has its own
    benchmark (mlx_lookup.py)."""
    backend = MlxBackend(str(path), Settings(temperature=TEMPERATURE, prompt_lookup=False))
    engine = backend.engine
    if not warm_up:
        engine._warm_up = lambda: None  # type: ignore[method-assign]
    stages: dict[str, float] = {}

    def timed(progress: LoadProgress) -> None:  # model thread
        stages.setdefault(progress.stage, time.perf_counter())
        engine.progress = progress

    engine._report = timed  # type: ignore[method-assign]

    async def ignore(text: str) -> None:
        return None

    await backend.ensure_ready(ignore)
    marks = [*stages.items(), ("ready", time.perf_counter())]
    spent = ", ".join(f"{a} {t2 - t1:.1f} s" for (a, t1), (_, t2) in itertools.pairwise(marks))
    print(f"loaded {path.name} (warm-up {warm_up}): {spent}", flush=True)
    return backend


async def first_prompt(name: str, backend: MlxBackend, workdir: Path, repeats: int, process_first: bool) -> Row:
    """The first prompt after loading vs warm ones, through the user's path: the core (PydanticAI
    agent, punie's instructions and tools) → `MlxModel` (see `first_prompt.py`).

    Warm prompts each have a new length, as a user's do (on CUDA a new length builds the attention
    graph of the prompt's last chunk, first prompt or not); the row also shows warm prompts that
    repeat the first one exactly (every shape already built)."""
    from benchmarks.first_prompt import first_and_warm, punie_core

    core = punie_core(backend, Settings(temperature=TEMPERATURE, max_tokens=1))
    project = workdir / "project"
    project.mkdir(exist_ok=True)
    before = len(backend.engine.history)
    times = await first_and_warm(core, backend, project, repeats, words=200, grow=40, same=repeats)
    first, warm, same = times[0], statistics.median(times[1 : repeats + 1]), statistics.median(times[repeats + 1 :])
    which = "the process's first" if process_first else "the model's first (not the process's)"
    tokens = backend.engine.history[-1].prompt_tokens
    queued = backend.engine.history[before].queued_s  # behind idle work, if any (engine.LOAD_GRACE_S)
    return (f"{name}: first prompt through the core ({which}; {tokens} tokens) vs warm",
            f"{first * 1000:.0f} ms (queued {queued * 1000:.1f} ms)",
            f"{warm * 1000:.0f} ms warm, new lengths; {same * 1000:.0f} ms warm, same prompt ({first / same:.2f}x)",
            f"{first / warm:.2f}x", "≤1.2x")  # fmt: skip


async def run(workdir: Path, which: list[str], tokens: int, repeats: int, sessions: bool = True) -> list[Row]:
    """Everything for each chosen model; the rows for the benchmark's table."""
    rows: list[Row] = []
    for index, name in enumerate(which):
        shape, bits = (MOE, 4) if name == "moe" else (DENSE, None)
        path = fabricate(workdir / f"scale-{name}", shape, bits)
        backend = await load(path)
        rows.append(await first_prompt(name, backend, workdir, repeats, process_first=index == 0))
        waited = await settled(backend)  # the rows below are steady state: no graph build in flight
        print(f"{name}: idle work done {waited:.1f} s after the first-prompt row", flush=True)
        rows += await ttft(name, backend, tokens, repeats)
        rows.append(await ttft_new_lengths(name, backend, tokens, repeats))
        rows.append(await decode(name, backend, 128, repeats))
        per_token = 1000 / float(rows[-1][1])
        rows += await cancel(name, backend, tokens, repeats * 2, per_token)
        await backend.aclose()
        cold = await load(path, warm_up=False)
        first = (await punie_ttft(cold, "cold", long_prompt(cold, tokens, 0))).total
        second = (await punie_ttft(cold, "cold2", long_prompt(cold, tokens, 1))).total
        rows.append((f"{name}: no warm-up: first TTFT vs second", f"{first * 1000:.0f} ms", f"{second * 1000:.0f} ms",
                     f"{first / second:.2f}x", "(what warm-up saves)"))  # fmt: skip
        await cold.aclose()
        if sessions:  # a model that calls a tool every time: same shape, its own directory
            tools = fabricate(workdir / f"scale-{name}-tools", shape, bits, tool_turns.SCALE_SCRIPT)
            rows += await tool_turns.sessions(tools, repeats, label=f"{name}: ", temperature=TEMPERATURE)
        for row in rows:
            print("  " + " | ".join(row), flush=True)
    return rows
