"""Prefill through mixture-of-experts layers at the speed mlx's CUDA backend can give.

mlx-lm runs a MoE layer's experts with `gather_qmm` on their quantized weights. On mlx's CUDA
backend that kernel is slow for the many rows of a prefill chunk. Measured on an H200 (mlx 0.32.4),
one Qwen3-30B-A3B-shaped expert block (128 experts, top 8, 2048 → 768, 4 bits):

| tokens | `gather_qmm` (mlx-lm) | dequantize, then `gather_mm` in bf16 |
|---|---|---|
| 32 | 0.87 ms | 3.5 ms |
| 128 | 2.4 ms | 3.7 ms |
| 233 | 4.1 ms | 3.6 ms |
| 512 | 8.8 ms | 4.0 ms |
| 2,048 | 32.1 ms | 4.5 ms |
| 4,096 | 63.6 ms | 6.5 ms |

The outputs agreed to the bit (`benchmarks/moe_kernels.py --min-rows 0`). Through the whole model
a 4,000-token prompt prefilled at 6,039 tokens/s against bare mlx-lm's 1,267. So while punie prefills
(`dense_experts()`), a quantized expert projection with at least `MIN_ROWS` sorted rows (tokens ×
experts per token) dequantizes its weights and multiplies them unquantized; anything smaller, and
every decoding step, keeps mlx-lm's kernel. The dequantized weights live for one projection
(~0.4 GB for that shape). Only on CUDA (`worthwhile`): Metal has its own fast `gather_qmm`, and
mlx's CPU `gather_mm` takes float32 only. The setting `unquantized_experts = false` turns it off.

The model's projections are adopted one instance at a time (`adopt`), not by patching mlx-lm's
class: another model in the process, or bare mlx-lm code on this one outside `dense_experts()`,
runs exactly as before.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextvars import ContextVar
from typing import Any

import mlx.core as mx  # imported with the model (`loading.load_model`), never at punie's start
from mlx_lm.models.switch_layers import QuantizedSwitchLinear

# 256 tokens of a top-8 model: the routes cross near 200 tokens (128: 0.66x, 233: 1.14x, 2,048: 7x).
MIN_ROWS = 2048

_PREFILLING: ContextVar[bool] = ContextVar("punie_prefilling_experts", default=False)


def worthwhile() -> bool:
    """True where the dequantized route pays: mlx's CUDA backend, running on the GPU."""
    from punie_acp.models.mlx import shapes

    return shapes.needed()


@contextlib.contextmanager
def dense_experts() -> Iterator[None]:
    """Graphs built inside run large expert projections unquantized (see the module doc)."""
    token = _PREFILLING.set(True)
    try:
        yield
    finally:
        _PREFILLING.reset(token)


class PrefillSwitchLinear(QuantizedSwitchLinear):
    """mlx-lm's quantized expert projection, unquantized for large prefill chunks."""

    def __call__(self, x: Any, indices: Any, sorted_indices: bool = False) -> Any:
        if sorted_indices and _PREFILLING.get() and x.size // x.shape[-1] >= MIN_ROWS:
            return unquantized(self, x, indices)
        return super().__call__(x, indices, sorted_indices)  # type: ignore[no-untyped-call]


def adopt(model: Any) -> int:
    """Give each quantized expert projection of `model` the prefill route; how many it found."""
    found = 0
    for module in model.modules():
        if type(module) is QuantizedSwitchLinear:
            module.__class__ = PrefillSwitchLinear
            found += 1
    return found


def unquantized(layer: Any, x: Any, indices: Any) -> Any:
    """What `QuantizedSwitchLinear.__call__` computes for sorted rows, through dequantized weights."""
    weight = mx.dequantize(
        layer["weight"],
        layer["scales"],
        layer.get("biases"),
        group_size=layer.group_size,
        bits=layer.bits,
        mode=layer.mode,
        global_scale=getattr(layer, "global_scale", None),  # nvfp4 only; older mlx-lm has none
    )
    out = mx.gather_mm(x, weight.swapaxes(-1, -2), rhs_indices=indices, sorted_indices=True)
    if "bias" in layer:
        out = out + mx.expand_dims(layer["bias"][indices], -2)
    return out
