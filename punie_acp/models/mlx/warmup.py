"""Warm-up after loading: one short generation on a throwaway cache, before the model is ready.

The first evaluation of each kernel pays its compilation (on CUDA the very first chunk after
loading once stalled 38 s; mlx's CPU backend compiles fused kernels with the system compiler),
so without a warm-up the user's first prompt is the slow one. The warm-up runs the same code as
a real prompt (`prefill_chunks`, then `token_stream`), reported as "Loading X: warming up n%".

Which shapes: on CUDA the first attention at each new key/value length also costs 50–90 ms, so
the warm-up prefills one full chunk from position 0 (the shape every long first prompt starts
with) and a short chunk after it (attention over a cache that already holds tokens). Elsewhere
shapes cost little and a full chunk of a large model would lengthen every load by seconds, so
a short prompt does.

On CUDA the warm-up then builds the attention graphs of full chunks from position 0 up to 16k
tokens (`shapes.chunk_shapes`, layer 0 only: ~45 ms each), the shapes every long first prompt
meets, and decodes one token over a long cache (`shapes.long_decode`); the engine builds the
other decoding graphs later, while idle (`shapes.decode_capacities`).

Besides kernels, the first request pays once-per-process Python work that no later one does:
importing the PydanticAI model view, PydanticAI's price table (loaded on the first `Model`
construction, ~0.2–0.4 s), compiling the chat template. `request_path` does those here too, so
the first prompt's time to first token is a warm prompt's.
"""

from __future__ import annotations

import importlib
import itertools
import logging
import time
from collections.abc import Callable
from dataclasses import replace

from punie_acp.models.mlx import shapes
from punie_acp.models.mlx.cache import SessionCache
from punie_acp.models.mlx.decode import token_stream
from punie_acp.models.mlx.jobs import Sampling
from punie_acp.models.mlx.loading import LoadedModel, LoadProgress, Reporter
from punie_acp.models.mlx.steps import DEFAULT_PREFILL_STEP, PrefillTuning, prefill_chunks, prefill_quanta

log = logging.getLogger(__name__)

STAGE = "warming up"
DECODE_TOKENS = 3
_SHORT = 64  # tokens of the short chunk


def plan(step: int, cuda: bool) -> tuple[int, int]:
    """(prompt tokens, chunk size) of the warm-up prefill: two chunks, the first one full."""
    chunk = step if cuda else min(step, _SHORT)
    return chunk + min(chunk, _SHORT) // 2 + 1, chunk  # the last token goes in with decode


# On the CPU one layer of a 2048-token chunk of a 1024-wide fp32 model took ~2 s (2 cores), and a
# cancel waits for the layer it lands in; 256-token chunks prefilled as fast there.
CPU_PREFILL_STEP = 256


def device_prefill_step() -> int:
    """The prefill chunk for this device when none is set: mlx-lm's on a GPU, smaller on the CPU."""
    import mlx.core as mx

    return CPU_PREFILL_STEP if mx.default_device() == mx.cpu else DEFAULT_PREFILL_STEP


def warm_up(
    loaded: LoadedModel,
    new_cache: Callable[[], SessionCache],
    step: int,
    sampling: Sampling,
    num_draft_tokens: int,
    report: Reporter,
) -> None:
    """Prefill two chunks (one layer a step, for measured progress), then decode with `sampling`.

    `sampling` should be the configured default: a sampler that draws (temperature > 0) runs
    kernels greedy decoding never does, and on CUDA each first run of one is compiled.
    """
    import mlx.core as mx

    cuda = shapes.needed()
    length, chunk = plan(step, cuda)
    tokens = _tokens(loaded, length)
    entry = new_cache()
    graph_steps = shapes.chunk_count(step) + 1 if cuda else 0  # and one long decoding step
    total = prefill_quanta(loaded, entry, len(tokens), chunk) + DECODE_TOKENS + graph_steps
    started, done = time.monotonic(), 0
    report(LoadProgress(STAGE, 0, total, started, unit="steps"))
    for _ in prefill_chunks(loaded, entry, tokens, PrefillTuning(step=chunk, target_s=0), lambda n, main: None):
        done += 1
        report(LoadProgress(STAGE, done, total, started, unit="steps"))
    sampling = replace(sampling, max_tokens=DECODE_TOKENS, seed=None)
    for _ in token_stream(loaded, entry.layers, tokens[-1], sampling, num_draft_tokens):
        done += 1
        report(LoadProgress(STAGE, min(done, total), total, started, unit="steps"))
    if graph_steps:
        graphs = itertools.chain(shapes.chunk_shapes(loaded, step), shapes.long_decode(loaded))
        for _ in shapes.guarded(graphs, "prefill attention graphs and long decoding"):
            done += 1
            report(LoadProgress(STAGE, min(done, total), total, started, unit="steps"))
    mx.clear_cache()
    request_path(loaded)
    log.info("warm-up: %d prompt tokens in chunks of %d, %.2f s", len(tokens), chunk, time.monotonic() - started)


# A request as the turn runner makes one: a system prompt, a user message, one tool.
_TOOL = {
    "type": "function",
    "function": {
        "name": "read_file",
        "description": "Read a text file in the project.",
        "parameters": {"type": "object", "properties": {"path": {"type": "string"}}, "required": ["path"]},
    },
}
_MESSAGES = [{"role": "system", "content": "You are punie."}, {"role": "user", "content": "Read setup.py."}]


def request_path(loaded: LoadedModel) -> None:
    """Pay the first request's once-per-process costs (imports, price table, chat template)."""
    from punie_acp.models.mlx.chat import render_prompt

    # The PydanticAI view `model_for` makes, with its parsers: the first request finds them loaded.
    importlib.import_module("punie_acp.models.mlx.model")
    for thinking in (True, False):
        render_prompt(loaded.tokenizer, list(_MESSAGES), [_TOOL], thinking)
    try:  # what PydanticAI's `Model.__init__` loads on its first call (genai-prices' snapshot)
        from pydantic_ai._genai_prices import preload_pricing_data
    except ImportError:  # moved in another PydanticAI: the first request pays it, as before
        return
    preload_pricing_data()


def _tokens(loaded: LoadedModel, n: int) -> list[int]:
    """`n` ordinary token ids of this tokenizer (what they say does not matter)."""
    ids = [int(t) for t in loaded.tokenizer.encode("def warm_up(path: str) -> None:\n    return None\n")]
    ids = ids or [0]
    return (ids * (n // len(ids) + 1))[:n]
