"""One MoE expert block, mlx-lm's quantized kernel against punie's prefill route (`models/mlx/moe.py`).

    python -m benchmarks.moe_kernels            # the Qwen3-30B-A3B block: 128 experts, top 8, 2048 -> 768, 4 bits
    python -m benchmarks.moe_kernels --small    # a small float32 block, for a smoke run on the CPU
    python -m benchmarks.moe_kernels --min-rows 0   # the route at every size, to place `moe.MIN_ROWS`

For each token count, the block (gate, up and down projections of the routed experts, rows
sorted by expert as mlx-lm sorts them for a prefill chunk) runs through mlx-lm's `SwitchGLU` as
it is (`gather_qmm`), then with punie's route (`moe.unquantized`: dequantize, then `gather_mm`),
on the same weights and routing. Prints ms per block, the ratio, and how far apart the outputs
are. bf16 on a GPU; float32 on the CPU, whose `gather_mm` takes nothing else.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from typing import Any

import mlx.core as mx
import mlx.nn as nn
from mlx_lm.models.switch_layers import SwitchGLU

from punie_acp.models.mlx import moe

FULL = {"dims": 2048, "hidden": 768, "experts": 128, "top": 8, "tokens": (1, 32, 64, 128, 233, 512, 667, 2048, 4096)}
SMALL = {"dims": 256, "hidden": 128, "experts": 16, "top": 4, "tokens": (1, 64, 512)}


def timed(fn: Callable[[], Any], repeats: int) -> float:
    """Mean ms of `repeats` evaluations after three warm ones (the first compiles)."""
    for _ in range(3):
        mx.eval(fn())
    mx.synchronize()
    started = time.perf_counter()
    for _ in range(repeats):
        mx.eval(fn())
    mx.synchronize()
    return (time.perf_counter() - started) / repeats * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--small", action="store_true")
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--min-rows", type=int, default=moe.MIN_ROWS, help="the route's threshold (default: punie's)")
    args = parser.parse_args()
    moe.MIN_ROWS = args.min_rows
    shape: dict[str, Any] = SMALL if args.small else FULL
    dtype = mx.float32 if mx.default_device() == mx.cpu else mx.bfloat16
    mx.random.seed(0)
    block = SwitchGLU(shape["dims"], shape["hidden"], shape["experts"])
    block.set_dtype(dtype)
    nn.quantize(block, group_size=64, bits=4)  # type: ignore[attr-defined]
    mx.eval(block.parameters())
    routed = SwitchGLU(shape["dims"], shape["hidden"], shape["experts"])  # the same weights, punie's route
    nn.quantize(routed, group_size=64, bits=4)  # type: ignore[attr-defined]
    routed.update(block.parameters())
    moe.adopt(routed)
    print(f"one expert block ({shape['experts']} experts, top {shape['top']}, {shape['dims']} -> {shape['hidden']}, "
          f"4 bits, {dtype}) on {mx.default_device()}; ms per block, mean of {args.repeats}")  # fmt: skip
    print(f"{'tokens':>7} {'mlx-lm gather_qmm':>18} {'punie prefill route':>20} {'ratio':>7}  outputs")
    for tokens in shape["tokens"]:
        x = (mx.random.normal((1, tokens, shape["dims"])) * 0.1).astype(dtype)
        experts = [mx.random.permutation(shape["experts"])[: shape["top"]] for _ in range(tokens)]
        indices = mx.stack(experts)[None].astype(mx.uint32)
        mx.eval(x, indices)

        def punie(x: Any = x, indices: Any = indices) -> Any:
            with moe.dense_experts():  # the graph is built here, as in `steps.prefill_chunks`
                return routed(x, indices)

        def bare(x: Any = x, indices: Any = indices) -> Any:
            return block(x, indices)

        rows = tokens * shape["top"]
        # mlx-lm sorts a block's rows from 64 on (`SwitchGLU`); only sorted rows can take the route
        route = "route" if rows >= max(moe.MIN_ROWS, 64) else "kernel (below MIN_ROWS or unsorted)"
        a, b = timed(bare, args.repeats), timed(punie, args.repeats)
        expected, got = bare().astype(mx.float32), punie().astype(mx.float32)
        diff = mx.max(mx.abs(expected - got)).item()
        scale = mx.max(mx.abs(expected)).item()
        print(f"{tokens:>7} {a:>18.3f} {b:>20.3f} {a / b:>6.2f}x  max |diff| {diff:.1e} of {scale:.1e}; {route}")


if __name__ == "__main__":
    main()
