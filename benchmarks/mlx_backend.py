"""Benchmark punie's in-process mlx backend, each number beside its baseline from the same run.

    python benchmarks/mlx_backend.py            # mid-sized models, a few minutes on 2 CPU cores
    python benchmarks/mlx_backend.py --quick    # small models, CI-sized
    python benchmarks/mlx_backend.py --scale    # GPU-shaped MoE and dense models (mlx_scale.py)

1. decode tokens/s: punie (Agent → MlxModel → model thread) vs bare `mlx_lm.stream_generate`;
2. a session of five tool turns: tokens prefilled and wall time with the per-session KV cache,
   without it, and PydanticAI → HTTP → `mlx_lm.server` on the same model;
3. spawn → `initialize` answer while a large model loads, and the server's RSS at that moment;
4. cancel latency mid-prefill and mid-decode (p50/p95), next to the time of one token / chunk;
5. time to first token for a long prompt (first after loading, then warm) and prefill tokens/s,
   beside bare `stream_generate` run on punie's model thread.
With --scale, the GPU-shaped models of `mlx_scale.py` instead: 5. and decode, cancel and the
first prompt without the warm-up, on whatever mlx backend is present.

Models are fabricated (random or scripted float32 Qwen3, see tests.support.fabricate) and
kept in --workdir. mlx's CPU wheel ships reference BLAS; when Debian's libopenblas0-pthread is
installed the script re-runs itself with it preloaded (fp32 matmuls ~70x faster), and every
baseline, the mlx_lm.server subprocess included, runs with the same BLAS.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

OPENBLAS = "/usr/lib/x86_64-linux-gnu/openblas-pthread/libopenblas.so.0"
if Path(OPENBLAS).exists() and OPENBLAS not in os.environ.get("LD_PRELOAD", ""):
    os.environ["LD_PRELOAD"] = OPENBLAS
    os.execv(sys.executable, [sys.executable, *sys.argv])

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pydantic_ai import Agent  # noqa: E402
from pydantic_ai.settings import ModelSettings  # noqa: E402

from benchmarks import mlx_scale, tool_turns  # noqa: E402
from punie_acp.config import Settings  # noqa: E402
from punie_acp.models.mlx import MlxBackend  # noqa: E402
from tests.support.fabricate import MID, ModelShape, Script, write_random_model, write_scripted_model  # noqa: E402

SMALL = ModelShape(hidden_size=512, num_hidden_layers=4, intermediate_size=1536, num_attention_heads=8,
                   num_key_value_heads=4, head_dim=64, bpe_vocab=2048)  # fmt: skip
LARGE = ModelShape(hidden_size=2048, num_hidden_layers=12, intermediate_size=5632, num_attention_heads=16,
                   num_key_value_heads=8, head_dim=128, bpe_vocab=2048)  # fmt: skip
FIRST = Script(("<tool_call>", '\n{"name": "read_file", "arguments": {"path": "a.txt"}}\n', "</tool_call>"))
AGAIN = Script(("<tool_call>", '\n{"name": "read_file", "arguments": {"path": "b.txt"}}\n', "</tool_call>"))
# 120 distinct one-token pieces in a loop: every token is visible text, the reply never ends by
# itself, and (period 120 > 64) the repetition guard leaves it alone.
ENDLESS = Script(tuple(f" w{i}" for i in range(120)), loop=True)
ROWS: list[tuple[str, str, str, str, str]] = []


def row(metric: str, punie: str, baseline: str, ratio: str, target: str) -> None:
    ROWS.append((metric, punie, baseline, ratio, target))
    print(f"  {metric}: {punie} | {baseline} | {ratio}", file=sys.stderr, flush=True)


def build(workdir: Path, quick: bool) -> dict[str, Path]:
    shape = SMALL if quick else MID
    dirs = {"decode": workdir / f"endless-{shape.hidden_size}", "tools": workdir / f"tools-{shape.hidden_size}"}
    dirs["large"] = workdir / ("random-1024" if quick else "random-2048")
    dirs["prefill"] = workdir / "random-1024"
    if not (dirs["decode"] / "model.safetensors").exists():
        write_scripted_model(dirs["decode"], ENDLESS, shape=shape)
    if not (dirs["tools"] / "model.safetensors").exists():
        write_scripted_model(dirs["tools"], FIRST, AGAIN, shape=shape)
    if not (dirs["large"] / "model.safetensors").exists():
        write_random_model(dirs["large"], MID if quick else LARGE)
    if not (dirs["prefill"] / "model.safetensors").exists():
        write_random_model(dirs["prefill"], MID)
    return dirs


async def ready(path: Path, **settings: Any) -> MlxBackend:
    backend = MlxBackend(str(path), Settings(**settings))

    async def ignore(text: str) -> None:
        return None

    await backend.ensure_ready(ignore)
    return backend


# 1. decode ---------------------------------------------------------------------------------


async def punie_rate(backend: MlxBackend, session: str, prompt: str, settings: ModelSettings) -> float:
    """Decode tokens/s at an Agent's consumer, from the first text event to the last (`mlx_scale.punie_decode`)."""
    return await mlx_scale.punie_decode(backend, session, prompt, settings)


def bare_rate(backend: MlxBackend, prompt: str, tokens: int) -> float:
    """The same, at a plain `mlx_lm.stream_generate` loop on the same model and prompt."""
    from mlx_lm.generate import stream_generate

    loaded = backend.engine.loaded
    assert loaded is not None
    ids = loaded.tokenizer.apply_chat_template([{"role": "user", "content": prompt}], add_generation_prompt=True)
    stamps = [time.perf_counter() for _ in stream_generate(loaded.model, loaded.tokenizer, ids, max_tokens=tokens)]
    return (len(stamps) - 1) / (stamps[-1] - stamps[0])


async def decode(path: Path, tokens: int) -> None:
    backend = await ready(path, prompt_lookup=False)  # like for like with bare; mlx_lookup.py measures lookup
    prompt, settings = "Count for me.", ModelSettings(max_tokens=tokens, temperature=0.0)
    punie, engine, bare = [], [], []
    for _ in range(5):
        punie.append(await punie_rate(backend, "decode", prompt, settings))
        engine.append(await mlx_scale.engine_decode(backend, "engine", prompt, tokens))
        bare.append(bare_rate(backend, prompt, tokens))
    await backend.aclose()
    p, e, b = statistics.median(punie), statistics.median(engine), statistics.median(bare)
    row("decode tokens/s (median of 5)", f"{p:.1f}", f"{b:.1f} bare stream_generate", f"{p / b:.3f}x", "≥0.97x")
    row("  the same at the engine, no PydanticAI", f"{e:.1f}", f"{b:.1f} bare stream_generate", f"{e / b:.3f}x", "-")


# 3. start-up -------------------------------------------------------------------------------


def startup(path: Path) -> None:
    size = sum(p.stat().st_size for p in path.glob("*.safetensors"))
    env = dict(os.environ, PUNIE_LOG_FILE=str(path.parent / "punie-bench.log"))
    times, rss = [], []
    for _ in range(3):
        started = time.perf_counter()
        proc = subprocess.Popen([sys.executable, "-m", "punie_acp", "serve", "--model", str(path)], env=env,
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)  # fmt: skip
        assert proc.stdin is not None and proc.stdout is not None
        init = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"protocolVersion": 1}}
        proc.stdin.write((json.dumps(init) + "\n").encode())
        proc.stdin.flush()
        answer = json.loads(proc.stdout.readline())
        times.append(time.perf_counter() - started)
        rss.append(_rss_mb(proc.pid))
        assert answer.get("result", {}).get("protocolVersion") == 1, answer
        proc.terminate()
        proc.wait(30)
    row(f"spawn → initialize answer ({size / 1e9:.1f} GB model loading)", f"{statistics.median(times) * 1000:.0f} ms",
        "-", "median of 3", "≤200 ms")  # fmt: skip
    row("server RSS at initialize (model not loaded yet)", f"{max(rss):.0f} MB", "-", "max of 3", "≤150 MB")


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


# 4. cancel latency --------------------------------------------------------------------------


async def step_ms(backend: MlxBackend) -> float:
    """Median time of one prefill step (one layer of one chunk), measured on a long prompt."""
    stamps: list[float] = []
    backend.engine.on_prefill_chunk = lambda stats: stamps.append(time.perf_counter())
    prompt = " ".join(f"item{i}" for i in range(600))
    await Agent(backend.model_for("chunks")).run(prompt, model_settings=ModelSettings(max_tokens=1))
    backend.engine.on_prefill_chunk = None
    backend.forget_session("chunks")
    assert backend.engine.loaded is not None
    layers = len(backend.engine.loaded.model.layers)
    return statistics.median(b - a for a, b in itertools.pairwise(stamps[2:])) * 1000 / layers


async def cancel_latency(path: Path, repeats: int) -> None:
    # The default chunk for this device (256 tokens on the CPU, see warmup.device_prefill_step): the
    # 600-item prompt prefills in several, and a cancel lands mid-prefill after the nth.
    backend = await ready(path)
    assert backend.engine.prefill.step * 4 < 1200, "the prompt must span several chunks"
    settings = ModelSettings(max_tokens=4000, temperature=0.0)
    results: dict[str, list[float]] = {"prefill": [], "decode": []}
    jitter = random.Random(0)
    for attempt in range(repeats):
        for phase in results:
            nth = (2 + attempt % 3) if phase == "prefill" else (3 + attempt % 4)
            delay = jitter.uniform(0, 0.05)
            prompt = " ".join(f"item{i}" for i in range(600)) if phase == "prefill" else "Tell me a story."
            latency = await mlx_scale.cancel_once(
                backend, f"c{attempt}", prompt, phase, delay, nth=nth, settings=settings
            )
            results[phase].append(latency)
    token = 1000 / await punie_rate(backend, "rate", "Count.", ModelSettings(**{**settings, "max_tokens": 32}))
    step = await step_ms(backend)
    await backend.aclose()
    for phase, unit in (("prefill", f"one prefill step {step:.0f} ms"), ("decode", f"one token {token:.0f} ms")):
        values = sorted(results[phase])
        p50, p95 = statistics.median(values) * 1000, values[min(len(values) - 1, int(0.95 * len(values)))] * 1000
        row(f"cancel latency mid-{phase} p50/p95 (n={len(values)})", f"{p50:.0f} / {p95:.0f} ms", unit, "-",
            "≤100 ms + one token")  # fmt: skip


async def cpu_rows(args: argparse.Namespace) -> None:
    print(f"building models in {args.workdir} …", file=sys.stderr, flush=True)
    dirs = build(args.workdir, args.quick)
    await decode(dirs["decode"], 96 if args.quick else 128)
    for metric, *rest in await tool_turns.sessions(dirs["tools"], 2):
        row(metric, *rest)
    startup(dirs["large"])
    await cancel_latency(dirs["decode"], 3 if args.quick else 10)
    backend = await mlx_scale.load(dirs["prefill"])
    for metric, *rest in await mlx_scale.ttft("random 1024x8", backend, args.prompt_tokens, args.repeats):
        row(metric, *rest)
    await backend.aclose()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="small models, fewer repeats (CI-sized)")
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/punie-bench-models"))
    parser.add_argument("--scale", action="store_true", help="the GPU-shaped models of mlx_scale.py instead")
    parser.add_argument("--models", default="moe,dense", help="with --scale: which of moe,dense")
    parser.add_argument("--prompt-tokens", type=int, default=4000, help="long prompt for time to first token")
    parser.add_argument(
        "--sessions",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="with --scale: also the five tool turns (a second, scripted model of each shape)",
    )
    parser.add_argument("--repeats", type=int, default=3, help="TTFT and decode repeats (--scale, section 5)")
    args = parser.parse_args()
    args.workdir.mkdir(parents=True, exist_ok=True)
    from importlib.metadata import version

    from punie_acp.models.mlx.kernel_cache import use_private_kernel_cache

    use_private_kernel_cache()  # as punie's model thread does before mlx compiles anything
    import mlx.core as mx

    where = f"mlx {version('mlx')} on {mx.default_device()}" + (" (CUDA)" if mx.cuda.is_available() else "")
    if args.scale:
        which = args.models.split(",")
        ROWS.extend(await mlx_scale.run(args.workdir, which, args.prompt_tokens, args.repeats, args.sessions))
        print(f"\nmlx backend benchmark at scale ({where})\n")
    else:
        await cpu_rows(args)
        blas = "OpenBLAS (preloaded)" if OPENBLAS in os.environ.get("LD_PRELOAD", "") else "mlx's reference BLAS"
        mode = "quick" if args.quick else "full"
        print(f"\nmlx backend benchmark ({mode}; {where}; {os.cpu_count()} CPUs; {blas})\n")
    header = ("metric", "punie", "baseline (same run)", "ratio", "target")
    widths = [max(len(r[i]) for r in [header, *ROWS]) for i in range(5)]
    for line in [header, tuple("-" * w for w in widths), *ROWS]:
        print(" | ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)))


if __name__ == "__main__":
    asyncio.run(main())
    # The bare baseline drives mlx from the main thread while punie's engine used its own model
    # thread; mlx's per-thread streams can then crash in interpreter teardown (seen as exit 139
    # after the table). Everything is printed and closed by now, so leave without teardown.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)
