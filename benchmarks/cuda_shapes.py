"""What a new attention shape costs on mlx's CUDA backend, and what punie's prebuilt graphs save.

    python -m benchmarks.cuda_shapes [--workdir DIR] [--model DIR] [--small]

Each variant runs in a fresh process on the bare mlx-lm model (no punie engine), so only the
per-shape costs differ. A process loads the model, runs punie's warm-up plan (a full prefill
chunk and a short one, three decoded tokens), then prefills a list of prompts from an empty
cache, timing every chunk and the first decoding step after it. A prompt is run twice where
the second run shows the cost of the same shapes when they are known. Variants:
- `mlx-lm`: nothing more (the baseline);
- `punie`: also punie's builders (`models/mlx/shapes.py`): full chunks from 0 up to 16k, one
  long decoding step, and every decoding capacity up to 16k (the engine builds those while idle);
- `cudnn off`, `cuda graphs off`: mlx-lm with `MLX_CUDA_USE_CUDNN_SDPA=0` or `MLX_USE_CUDA_GRAPHS=0`,
  to tell which part of mlx pays per shape.
mlx keeps compiled kernels on disk; the first process on a machine also compiles them, so a
throwaway run of the baseline goes first. Per-shape costs are a CUDA matter: elsewhere the
columns agree within noise. Without `--model`, the 0.6B-shaped dense model of `scale_models.py`
is fabricated (`--small`: a tiny one, for a smoke run on the CPU).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

VARIANTS: dict[str, dict[str, str]] = {
    "mlx-lm": {},
    "punie": {},
    "cudnn off": {"MLX_CUDA_USE_CUDNN_SDPA": "0"},
    "cuda graphs off": {"MLX_USE_CUDA_GRAPHS": "0"},
}
# (label, prompt tokens): each "again" repeats the case before it with every shape known.
CASES = [("first 8551", 8551), ("again", 8551), ("8560: new last chunk", 8560), ("9000: new capacity", 9000),
         ("4005", 4005), ("again", 4005), ("12000", 12000), ("again", 12000), ("16000", 16000)]  # fmt: skip
STEP = 2048


def child(model_dir: str, variant: str) -> dict[str, Any]:
    """Run in a fresh process: {case index: [chunk ms…, first decoding step ms]}."""
    import mlx.core as mx
    from mlx_lm import load
    from mlx_lm.generate import generation_stream
    from mlx_lm.models.cache import make_prompt_cache

    from punie_acp.models.mlx import shapes
    from punie_acp.models.mlx.loading import LoadedModel

    model, tokenizer = load(model_dir)[:2]

    def prefill(n: int) -> list[float]:
        cache = make_prompt_cache(model)
        ids = [(i * 37) % 1900 + 5 for i in range(n)]
        times, position = [], 0
        with mx.stream(generation_stream):
            while position < n - 1:
                m = min(STEP, n - 1 - position)
                started = time.perf_counter()
                model(mx.array(ids[position : position + m])[None], cache=cache)
                mx.eval([c.state for c in cache])
                times.append((time.perf_counter() - started) * 1000)
                position += m
                mx.clear_cache()
            started = time.perf_counter()
            mx.eval(mx.argmax(model(mx.array(ids[-1:])[None], cache=cache)[:, -1], axis=-1))
            times.append((time.perf_counter() - started) * 1000)
        return times

    prefill(STEP + 33)  # punie's warm-up plan on CUDA
    built = 0.0
    if variant == "punie":
        loaded = LoadedModel(model, tokenizer, Path(model_dir))
        started = time.perf_counter()
        for steps in (shapes.chunk_shapes(loaded, STEP), shapes.long_decode(loaded), shapes.decode_capacities(loaded)):
            for _ in steps:
                pass
        built = time.perf_counter() - started
    return {"built_s": built, "cases": [prefill(n) for _, n in CASES]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/punie-bench-models"))
    parser.add_argument("--model", default=None)
    parser.add_argument("--small", action="store_true", help="a tiny fabricated model (a smoke run)")
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(*args.child)))
        return
    model = args.model or str(_fabricate(args.workdir, args.small))
    run(model, "mlx-lm")  # compiles mlx's kernels into its disk cache, so no variant pays that
    results = {variant: run(model, variant) for variant in VARIANTS}
    _table(results)


def run(model: str, variant: str) -> dict[str, Any]:
    env = {**os.environ, **VARIANTS[variant]}
    command = [sys.executable, "-m", "benchmarks.cuda_shapes", "--child", model, variant]
    out = subprocess.run(command, env=env, capture_output=True, text=True, check=True).stdout
    result: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    return result


def _fabricate(workdir: Path, small: bool) -> Path:
    from benchmarks import scale_models
    from tests.support.fabricate import ModelShape, write_random_model

    workdir.mkdir(parents=True, exist_ok=True)
    if small:
        return write_random_model(workdir / "shapes-small", ModelShape(num_hidden_layers=2, hidden_size=64))
    return scale_models.fabricate(workdir / "scale-dense", scale_models.DENSE, None)


def _table(results: dict[str, dict[str, Any]]) -> None:
    import mlx.core as mx

    where = "CUDA" if mx.cuda.is_available() else str(mx.default_device())
    print(f"\nprefill from an empty cache, {STEP}-token chunks, bare mlx-lm in a fresh process per variant ({where});")
    print("ms: whole prompt to its first token | its last chunk | the first decoding step")
    names = list(results)
    print(f"{'case':22}" + "".join(f"{name:>26}" for name in names) + f"{'punie / mlx-lm':>16}")
    for index, (label, _) in enumerate(CASES):
        cells, totals = [], []
        for name in names:
            times = results[name]["cases"][index]
            totals.append(sum(times))
            cells.append(f"{sum(times):8.1f} |{times[-2]:6.1f} |{times[-1]:6.1f}")
        ratio = totals[names.index("punie")] / totals[names.index("mlx-lm")]
        print(f"{label:22}" + "".join(f"{cell:>26}" for cell in cells) + f"{ratio:15.2f}x")
    print(f"punie's builders took {results['punie']['built_s']:.1f} s (at load and while idle, in the server)")


if __name__ == "__main__":
    main()
