"""Building mlx-cuda's attention graphs before a prompt needs them.

On mlx's CUDA backend attention runs in cuDNN, whose graph is built the first time each shape
is seen: 45–90 ms on an H200 (measured with mlx 0.32.4), paid by whichever prompt meets it.
- Prefill chunks: one graph per (chunk length, key/value length, cache capacity).
- Decoding: one graph per KV buffer capacity, once that buffer holds 256 tokens or more and its
  capacity is a multiple of 256 (mlx-lm's step), which is how a prompt prefilled from an empty
  cache leaves it; a reply that crosses into a new capacity stops for the build.
The length of a prompt's last chunk cannot be foreseen, but two families of shapes repeat:
every long prompt from an empty cache starts with full chunks at 0, step, 2·step, …, and
replies decode at capacities 256, 512, …. `chunk_shapes` builds the first family during the
warm-up after loading (with `long_decode`, one decoding step of the whole model over a long
cache); `decode_capacities` builds the second one capacity at a time while the
model thread has nothing else to do (`Engine`), so it never delays a prompt by more than one build.

Only layer 0's attention runs, on a throwaway cache and on the stream prompts run on: a graph
depends on shapes, dtype and memory layout, which every layer shares, not on values. Nothing
here touches a session's cache.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any, cast

from punie_acp.models.mlx.loading import LoadedModel

log = logging.getLogger(__name__)

# Prompts and replies up to this many tokens meet only prebuilt graphs (but their last chunk's).
# 8 chunk graphs at load (~0.4 s) and 64 capacities when idle (~3 s); mlx keeps 128+ graphs.
WARM_CONTEXT = 16_384
LONG_DECODE = 8192  # the capacity of the warm-up's whole-model decoding step (`long_decode`)
CAPACITY_STEP = 256  # mlx-lm's KVCache.step, which mlx's CUDA backend keys decoding graphs on


def needed() -> bool:
    """True on mlx's CUDA backend running on the GPU: attention pays per shape there, and MoE
    prefill takes the dequantized route (`moe.worthwhile`)."""
    import mlx.core as mx

    return bool(mx.default_device() == mx.gpu and mx.cuda.is_available())


def chunk_shapes(loaded: LoadedModel, step: int, longest: int = WARM_CONTEXT) -> Iterator[None]:
    """Attention over full `step`-token chunks from position 0 up to `longest`; one step each."""
    import mlx.core as mx

    attention, x = _layer_zero(loaded, step)
    cache = _kv_cache()
    for _ in range(chunk_count(step, longest)):
        with _generation_stream():
            mx.eval(attention(x, mask="causal", cache=cache))
        yield
    mx.clear_cache()


def chunk_count(step: int, longest: int = WARM_CONTEXT) -> int:
    return max(0, longest // step)


def decode_capacities(loaded: LoadedModel, longest: int = WARM_CONTEXT) -> Iterator[None]:
    """One decoding step at each capacity 256, 512, … up to `longest`; one step each."""
    import mlx.core as mx

    attention, x = _layer_zero(loaded, 1)
    heads, dim, dtype = _kv_layout(loaded)
    for capacity in range(CAPACITY_STEP, longest + 1, CAPACITY_STEP):
        cache = _kv_cache()
        with _generation_stream():
            cache.keys = mx.zeros((1, heads, capacity, dim), dtype)
            cache.values = mx.zeros((1, heads, capacity, dim), dtype)
            cache.offset = capacity - 1  # the step fills the last slot: keys are the whole buffer
            mx.eval(cache.keys, cache.values)
            mx.eval(attention(x, mask=None, cache=cache))
        del cache
        yield
    mx.clear_cache()


def long_decode(loaded: LoadedModel, capacity: int = LONG_DECODE) -> Iterator[None]:
    """One decoding step of the whole model over a cache of `capacity` tokens (zeros); one step.

    With an empty kernel cache the first reply to a long prompt stalled 0.45 s on the H200,
    compiling kernels that decoding over short caches never used; this pays that at the warm-up
    (and builds that capacity's decoding graph)."""
    import mlx.core as mx

    heads, dim, dtype = _kv_layout(loaded)
    layers = _prompt_cache(loaded)
    with _generation_stream():
        for layer in layers:
            zeros = mx.zeros((1, heads, capacity - 1, dim), dtype)
            layer.update_and_fetch(zeros, zeros)
        mx.eval([layer.keys for layer in layers])
        mx.eval(loaded.model(mx.array([[0]]), cache=layers))
    del layers
    mx.clear_cache()
    yield


def _kv_layout(loaded: LoadedModel) -> tuple[int, int, Any]:
    """Key/value heads, head size and dtype of the model's cache, from one step of layer 0."""
    import mlx.core as mx

    attention, x = _layer_zero(loaded, 1)
    probe = _kv_cache()
    with _generation_stream():
        mx.eval(attention(x, mask=None, cache=probe))
    _, heads, _, dim = probe.keys.shape
    return int(heads), int(dim), probe.keys.dtype


def _prompt_cache(loaded: LoadedModel) -> list[Any]:
    from mlx_lm.models import cache

    return list(cast(Any, cache).make_prompt_cache(loaded.model))


def _generation_stream() -> Any:
    """The stream prompts run on (mlx-lm's `generation_stream`), so each graph is built where a
    prompt would build it. Entered around each build, never across a `yield`."""
    import mlx.core as mx
    from mlx_lm.generate import generation_stream

    return mx.stream(generation_stream)


def _kv_cache() -> Any:
    """mlx-lm's plain KV cache (a buffer grown in steps of 256 tokens), as `make_prompt_cache` makes."""
    from mlx_lm.models import cache

    return cast(Any, cache).KVCache()


def _layer_zero(loaded: LoadedModel, tokens: int) -> tuple[Any, Any]:
    """Layer 0's attention module and a `tokens`-long input in the model's activation dtype."""
    import mlx.core as mx

    layer = loaded.model.layers[0]
    attention = layer.self_attn
    norm = layer.input_layernorm.weight  # norms stay in the activation dtype, quantized or not
    hidden = int(norm.shape[-1])
    return attention, mx.zeros((1, tokens, hidden), norm.dtype)


def guarded(steps: Iterator[None], what: str) -> Iterator[None]:
    """`steps` until done; a failure (an architecture without `self_attn`, …) ends them, logged."""
    try:
        yield from steps
    except Exception:
        log.info("building %s ahead of time failed; they are built when first needed", what, exc_info=True)
