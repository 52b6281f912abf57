"""What one generation job does on the model thread, one quantum per `next()`.

render the prompt → prefill (one layer of one chunk per step) → decode (one token per step).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Generator
from dataclasses import dataclass

from punie_acp.models.mlx.cache import PromptCacheStore, SessionCache
from punie_acp.models.mlx.decode import token_stream
from punie_acp.models.mlx.guards import RepetitionGuard
from punie_acp.models.mlx.jobs import JobHandle, JobStats, Prompted, Text
from punie_acp.models.mlx.loading import LoadedModel

PREFILL_STEP_S = 0.04
Steps = Generator[None, None, None]


@dataclass
class PrefillTuning:
    """Chunk size for prefill: adapted so one layer of one chunk takes about `PREFILL_STEP_S`."""

    fixed: int | None = None
    step: int = 32
    on_chunk: Callable[[JobStats], None] | None = None  # test/benchmark hook, model thread

    def __post_init__(self) -> None:
        self.step = self.fixed or self.step

    def adapt(self, n: int, seconds: float) -> None:
        if self.fixed is None and seconds > 0:
            estimate = n * PREFILL_STEP_S / seconds
            self.step = max(8, min(2048, int((self.step + estimate) / 2)))


def run_job(
    handle: JobHandle, loaded: LoadedModel, caches: PromptCacheStore, prefill: PrefillTuning, num_draft_tokens: int
) -> Steps:
    request, stats = handle.request, handle.stats
    rendered = request.render(loaded.tokenizer)
    tokens = rendered.tokens
    entry = caches.get(request.session_id)
    entry.busy = True
    try:
        stats.prompt_tokens = len(tokens)
        stats.cached_tokens = entry.reuse(tokens)
        handle.put(Prompted(rendered, stats.prompt_tokens, stats.cached_tokens))
        yield
        yield from _prefill(handle, loaded, entry, tokens, prefill)
        yield from _decode(handle, loaded, entry, tokens, num_draft_tokens)
    finally:
        caches.release(request.session_id)


def _prefill(
    handle: JobHandle, loaded: LoadedModel, entry: SessionCache, tokens: list[int], tuning: PrefillTuning
) -> Steps:
    """Run the prompt (but its last token) through each model, one layer of one chunk per step.

    The chunk's graph is built once (cache offsets advance then); evaluating layer i's cache
    state computes layers 0..i only, so the stop flag is checked between layers and chunks can
    stay large enough to be efficient. A chunk abandoned half-way stays valid: the rest of its
    layers are computed when that cache is next used.
    """
    import mlx.core as mx
    from mlx_lm.generate import generation_stream

    for part, model in zip(entry.parts, [loaded.model, loaded.draft], strict=False):
        position = part.offset
        while position < len(tokens) - 1:
            n = min(tuning.step, len(tokens) - 1 - position)
            slowest = 0.0
            with mx.stream(generation_stream):
                model(mx.array(tokens[position : position + n])[None], cache=part.layers)
            for layer in part.layers:
                started = time.perf_counter()
                with mx.stream(generation_stream):
                    mx.eval(layer.state)
                slowest = max(slowest, time.perf_counter() - started)
                yield
            position += n
            if part is entry.parts[0]:
                handle.stats.prefilled_tokens += n
            tuning.adapt(n, slowest)
            if tuning.on_chunk is not None:
                tuning.on_chunk(handle.stats)


def _decode(
    handle: JobHandle, loaded: LoadedModel, entry: SessionCache, tokens: list[int], num_draft_tokens: int
) -> Steps:
    """One token per step until a stop token, `max_tokens`, the repetition guard or a cancel."""
    tokenizer, stats = loaded.tokenizer, handle.stats
    detokenizer, stops = tokenizer.detokenizer, tokenizer.eos_token_ids
    guard = RepetitionGuard()
    generated: list[int] = []
    stats.prefilled_tokens += 1  # the prompt's last token goes in with the first decode step
    stream = token_stream(loaded, entry.layers, tokens[-1], handle.request.sampling, num_draft_tokens)
    try:
        for token in stream:
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
