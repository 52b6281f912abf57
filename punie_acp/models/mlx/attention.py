"""Plain-matmul attention for draft verification on CUDA, where the fused kernel costs per shape.

On mlx's CUDA backend a query of more than one token goes to cuDNN's attention, whose graph is
built for each new key/value length: 50–90 ms the first time a length is seen
(`shared/gpu-benchmarking.md`). Decoding with drafts verifies k + 1 tokens at a new length on
every pass, so the fused kernel would pay that build every time. The same attention written as
two matmuls and a softmax (what mlx itself falls back to on CPU) has no per-shape build, and for
the handful of query tokens of a verification pass it costs next to nothing.

`unfused_attention(model)` swaps the model module's `scaled_dot_product_attention` (mlx-lm's
`models.base` helper, imported by name into qwen3, qwen3_moe and most other model files) for
the duration of one graph build; single-token queries and quantized KV caches keep mlx-lm's.
Only the model thread builds graphs, so the swap is never seen by anything else.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterator
from typing import Any

NAME = "scaled_dot_product_attention"


def plain_attention(original: Callable[..., Any]) -> Callable[..., Any]:
    def attention(queries: Any, keys: Any, values: Any, cache: Any, scale: float, mask: Any, sinks: Any = None) -> Any:
        import mlx.core as mx

        plain_mask = mask is None or isinstance(mask, str)
        if queries.shape[2] == 1 or sinks is not None or hasattr(cache, "bits") or not plain_mask:
            return original(queries, keys, values, cache=cache, scale=scale, mask=mask, sinks=sinks)
        batch, heads, length, dim = queries.shape
        kv_heads, total = keys.shape[1], keys.shape[2]
        q = (queries * scale).reshape(batch, kv_heads, heads // kv_heads, length, dim)
        scores = q @ keys[:, :, None].swapaxes(-1, -2)  # (batch, kv_heads, group, length, total)
        if mask is not None:  # "causal", aligned to the end: query i sees keys up to total - length + i
            visible = mx.arange(total)[None, :] <= mx.arange(total - length, total)[:, None]
            scores = mx.where(visible, scores, mx.array(-mx.inf, scores.dtype))
        weights = mx.softmax(scores.astype(mx.float32), axis=-1).astype(values.dtype)
        out = weights @ values[:, :, None]
        return out.reshape(batch, heads, length, dim)

    return attention


@contextlib.contextmanager
def unfused_attention(model: Any) -> Iterator[None]:
    module = sys.modules.get(type(model).__module__)
    original = getattr(module, NAME, None)
    if module is None or not callable(original):
        yield
        return
    setattr(module, NAME, plain_attention(original))
    try:
        yield
    finally:
        setattr(module, NAME, original)
