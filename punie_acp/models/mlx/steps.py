"""What one generation job does on the model thread, one quantum per `next()`.

render the prompt → prefill (one layer of one chunk per step) → decode (one token per step).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from typing import Any

from punie_acp.models.mlx.cache import PromptCacheStore, SessionCache
from punie_acp.models.mlx.decode import token_stream
from punie_acp.models.mlx.guards import RepetitionGuard
from punie_acp.models.mlx.jobs import JobHandle, JobStats, Prompted, Text
from punie_acp.models.mlx.loading import LoadedModel
from punie_acp.models.mlx.lookup import LookupConfig, LookupCounts, PromptLookup

# mlx-lm's own `generate_step(prefill_step_size=2048)`: prefill then costs what bare mlx-lm's does.
DEFAULT_PREFILL_STEP = 2048
# Work per prefill step when layers are fast: a step evaluates as many layers as fit in this.
STEP_TARGET_S = 0.02
Steps = Generator[None, None, None]


@dataclass
class _Pace:
    """Slowest seconds per token per layer seen in one model's prefill steps."""

    previous: float = 0.0  # over the last chunk
    current: float = 0.0  # over this chunk so far


@dataclass
class PrefillTuning:
    """Prefill chunk size: fixed, never derived from timings.

    An adaptive size was tried and collapsed on CUDA: the first attention at each new key/value
    length costs a fixed 50–90 ms there, which read as slow compute, shrank the chunks to 8
    tokens and paid that fixed cost ~500 times for a 4,000-token prompt. With a fixed size a
    prompt makes `ceil(n / step)` chunks, the same shapes bare mlx-lm makes.

    Timings decide only how often the stop flag is checked: a step evaluates one layer, or
    several when layers take well under `target_s` (each evaluation is a device sync, which
    costs ~30% of prefill when a layer takes 1 ms, as a 0.6B model's does on an H200). The
    estimate, per token and per model, is the slower step of this chunk or of the last one,
    whichever is lower once both are measured. The lower of the two because a step that met an
    attention shape for the first time also paid that shape's one-time cuDNN graph build (45–90
    ms on CUDA, once for all layers): taken as the pace, it made every later step of that chunk
    and all of the next one single layers, one device sync each. (On an H200 a 4,000-token
    prompt's prefill took 105 ms in punie against 92 ms in bare mlx-lm with the slower pace; its
    prompts each had a new length.) A pace that really changes shows in both chunks a chunk
    later. Layer 0 alone is never a measure: its state needs only the embedding and the
    key/value projections.
    """

    step: int = DEFAULT_PREFILL_STEP
    on_chunk: Callable[[JobStats], None] | None = None  # test/benchmark hook, model thread
    target_s: float = STEP_TARGET_S  # 0: one layer per step
    _paces: dict[int, _Pace] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.step < 1:
            raise ValueError(f"prefill step must be at least 1 token, not {self.step}")

    def start_chunk(self, model: int) -> None:
        pace = self._paces.setdefault(model, _Pace())
        if pace.current > 0:
            pace.previous, pace.current = pace.current, 0.0

    def layers(self, model: int, tokens: int, remaining: int) -> int:
        """How many layers the next step of a `tokens`-token chunk evaluates."""
        pace = self._paces.get(model, _Pace())
        measured = [p for p in (pace.previous, pace.current) if p > 0]
        per_token = min(measured) if measured else 0.0
        if per_token <= 0 or self.target_s <= 0:
            return 1
        return max(1, min(remaining, int(self.target_s / (per_token * tokens))))

    def observe(self, model: int, first: int, layers: int, tokens: int, seconds: float) -> None:
        if first == 0 and layers == 1:
            return
        pace = self._paces.setdefault(model, _Pace())
        pace.current = max(pace.current, seconds / (layers * tokens))


def run_job(
    handle: JobHandle,
    loaded: LoadedModel,
    caches: PromptCacheStore,
    prefill: PrefillTuning,
    num_draft_tokens: int,
    lookup: LookupConfig | None = None,
) -> Steps:
    request, stats = handle.request, handle.stats
    started = time.perf_counter()
    stats.queued_s = started - handle.submitted_at
    rendered = request.render(loaded.tokenizer)
    tokens = rendered.tokens
    stats.render_s = time.perf_counter() - started
    entry = caches.get(request.session_id)
    entry.busy = True
    try:
        stats.prompt_tokens = len(tokens)
        stats.cached_tokens = entry.reuse(tokens)
        handle.put(Prompted(rendered, stats.prompt_tokens, stats.cached_tokens))
        yield
        yield from _prefill(handle, loaded, entry, tokens, prefill)
        prefilled = time.perf_counter()
        stats.prefill_s = prefilled - started - stats.render_s
        yield from _decode(handle, loaded, entry, tokens, num_draft_tokens, lookup, started)
        stats.decode_s = time.perf_counter() - prefilled
    finally:
        caches.release(request.session_id)


def prefill_chunks(
    loaded: LoadedModel,
    entry: SessionCache,
    tokens: list[int],
    tuning: PrefillTuning,
    on_chunk: Callable[[int, bool], None],
) -> Steps:
    """Run the prompt (but its last token) through each model, one or more layers of one chunk per step.

    The chunk's graph is built once (cache offsets advance then); evaluating layer i's cache
    state computes layers 0..i only, so the stop flag is checked between layers while the chunk
    stays as large as bare mlx-lm's. A chunk abandoned half-way stays valid: the rest of its
    layers are computed when that cache is next used. `on_chunk(n, main)` follows each chunk.
    """
    import mlx.core as mx
    from mlx_lm.generate import generation_stream

    from punie_acp.models.mlx.moe import dense_experts

    models: list[Any] = [loaded.model, loaded.draft]
    for index, (part, model) in enumerate(zip(entry.parts, models, strict=False)):
        position = part.offset
        while position < len(tokens) - 1:
            n = min(tuning.step, len(tokens) - 1 - position)
            with mx.stream(generation_stream), dense_experts():  # large chunks: experts unquantized (moe.py)
                model(mx.array(tokens[position : position + n])[None], cache=part.layers)
            tuning.start_chunk(index)
            done = 0
            while done < len(part.layers):
                group = tuning.layers(index, n, len(part.layers) - done)
                started = time.perf_counter()
                with mx.stream(generation_stream):
                    mx.eval(part.layers[done + group - 1].state)  # and every layer before it
                tuning.observe(index, done, group, n, time.perf_counter() - started)
                done += group
                yield
            position += n
            mx.clear_cache()  # as mlx-lm does after each chunk: the chunk's buffers go back
            on_chunk(n, part is entry.parts[0])


def prefill_quanta(loaded: LoadedModel, entry: SessionCache, prompt_tokens: int, step: int) -> int:
    """How many steps `prefill_chunks` takes, one layer a step, for a prompt on an empty cache."""
    chunks = -(-max(0, prompt_tokens - 1) // step)
    models = [m for m in (loaded.model, loaded.draft) if m is not None]
    return sum(chunks * len(part.layers) for part, _ in zip(entry.parts, models, strict=False))


def _prefill(
    handle: JobHandle, loaded: LoadedModel, entry: SessionCache, tokens: list[int], tuning: PrefillTuning
) -> Steps:
    def chunk_done(n: int, main: bool) -> None:
        if main:
            handle.stats.prefilled_tokens += n
        if tuning.on_chunk is not None:
            tuning.on_chunk(handle.stats)

    yield from prefill_chunks(loaded, entry, tokens, tuning, chunk_done)


def _decode(
    handle: JobHandle,
    loaded: LoadedModel,
    entry: SessionCache,
    tokens: list[int],
    num_draft_tokens: int,
    lookup: LookupConfig | None,
    started: float,
) -> Steps:
    """One token per step until a stop token, `max_tokens`, the repetition guard or a cancel.

    With prompt lookup a step that verifies a draft runs one forward pass for several tokens; the
    tokens still come here one by one, so stops, the guard and the cancel check see each of them.
    """
    tokenizer, stats = loaded.tokenizer, handle.stats
    detokenizer, stops = tokenizer.detokenizer, tokenizer.eos_token_ids
    guard = RepetitionGuard()
    generated: list[int] = []
    stats.prefilled_tokens += 1  # the prompt's last token goes in with the first decode step
    sampling = handle.request.sampling
    counts = LookupCounts()
    drafts = None
    if lookup is not None and loaded.draft is None:
        drafts = PromptLookup(tokens, lookup, capacity=len(tokens) + sampling.max_tokens)
    stream = token_stream(loaded, entry.layers, tokens[-1], sampling, num_draft_tokens, drafts, counts)
    try:
        for token in stream:
            if not generated:
                stats.first_token_s = time.perf_counter() - started
            generated.append(token)
            stats.generated_tokens = len(generated)
            if handle.stop_requested:
                stats.tokens_after_stop += 1
            if token in stops:
                stats.finish = "stop"
                break
            detokenizer.add_token(token)
            if text := detokenizer.last_segment:
                handle.put(Text(text))
            if guard.add(token):
                stats.finish = "repetition"
                break
            yield
        else:
            stats.finish = "length"
        detokenizer.finalize()
        if text := detokenizer.last_segment:
            handle.put(Text(text))
    finally:
        stream.close()
        entry.tokens = tokens + generated
        stats.verifications, stats.drafted_tokens, stats.accepted_tokens = (
            counts.verifications,
            counts.drafted,
            counts.accepted,
        )
