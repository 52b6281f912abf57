"""The first prompt after loading vs a warm one, through the path a user's prompt takes:
`CoreService.run_turn` → the turn runner (PydanticAI agent, the tools) → `MlxModel` → model thread.

Each variant runs in a fresh process (once-per-process costs are the point): the server's order
of events is replayed (the model loads while a session opens and the turn modules import), then
one prompt is timed to its first streamed event, then `--warm` more, each in a fresh session
(the whole prompt is prefilled every time). Variants: punie as it is, and the baseline without
the first-request warm-up (`warmup.request_path`, the runner built on the preload thread).

    uv run --extra dev python -m benchmarks.first_prompt [--warm 5] [--model DIR] [--tool-style code]

Without `--model`, a small dense model is fabricated (fixed costs show when compute is small,
as for the 0.6B-shaped model on a GPU).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from punie_acp.config import Settings
    from punie_acp.core.service import CoreService
    from punie_acp.core.tooling import AgentTool
    from punie_acp.models.mlx import MlxBackend

OPENBLAS = "/usr/lib/x86_64-linux-gnu/openblas-pthread/libopenblas.so.0"  # as mlx_backend.py: fast fp32 on CPU
VARIANTS = ("punie", "without first-request warm-up")
SMALL = {"hidden_size": 128, "num_hidden_layers": 4, "intermediate_size": 256, "num_attention_heads": 4,
         "num_key_value_heads": 2, "head_dim": 32}  # fmt: skip


async def measure(model: str, warm: int, tool_style: str, project: Path, baseline: bool) -> list[float]:
    """Seconds to the first event: the first prompt, then `warm` more; last, the prompt's tokens."""
    from punie_acp.config import Settings
    from punie_acp.models.mlx import MlxBackend

    settings = Settings(model=model, max_tokens=8, tool_style="direct" if tool_style == "none" else tool_style)
    backend = MlxBackend(model, settings)
    core = punie_core(backend, settings, with_tools=tool_style != "none")
    if baseline:  # the runner built on the first turn, as before
        from punie_acp.core.preload import Preload

        core.turns.preload = Preload()
    core.start()
    times = await first_and_warm(core, backend, project, warm, words=50)
    await core.aclose()
    return [*times, float(backend.engine.history[-1].prompt_tokens)]


def punie_core(backend: MlxBackend, settings: Settings, with_tools: bool = True) -> CoreService:
    """The core as `punie serve` builds it, with the tools of `settings.tool_style` (or none)."""
    from punie_acp.core.service import CoreService

    def tools() -> list[AgentTool]:
        from punie_acp.tools.registry import default_tools

        return default_tools(settings.tool_style) if with_tools else []

    return CoreService(backend, settings, tools)


async def first_and_warm(
    core: CoreService, backend: MlxBackend, project: Path, warm: int, words: int, grow: int = 0, same: int = 0
) -> list[float]:
    """Seconds to the first event of the first prompt, then of `warm` more, each in a new session;
    prompt i has `words + grow * i` words. Then `same` more that repeat the first prompt exactly.

    The server's order: a session opens (the turn modules start importing) while the model
    loads; the user's prompt is timed once both are done, so it measures the prompt, not the load.
    """
    from punie_acp.core.host import LocalHost

    times: list[float] = []
    for i in range(warm + 1 + same):
        session = core.open_session(str(project), lambda _: LocalHost())
        core.preload_turn_modules()  # as the ACP face does once session/new is answered
        if i == 0:
            await backend.ensure_ready(_ignore)
            await core.turn_modules_ready()
        n = i if i <= warm else 0
        text = " ".join(f"item{(j * 7 + n) % 997}" for j in range(words + grow * n))
        times.append(await _first_event(core, session.id, f"Request {n}. {text}"))
        core.close_session(session.id)
    return times


async def _first_event(core: CoreService, session_id: str, prompt: str) -> float:
    from punie_acp.core.events import Event, TextDelta, ThoughtDelta, ToolStarted

    started, first = time.perf_counter(), 0.0

    async def emit(event: Event) -> None:
        nonlocal first
        if isinstance(event, TextDelta | ThoughtDelta | ToolStarted) and not first:
            first = time.perf_counter() - started

    await core.run_turn(session_id, prompt, emit)
    return first or time.perf_counter() - started


async def _ignore(text: str) -> None:
    return None


def _child(args: argparse.Namespace) -> None:
    baseline = args.variant != VARIANTS[0]
    if baseline:
        from punie_acp.models.mlx import warmup

        warmup.request_path = lambda loaded: None
    with tempfile.TemporaryDirectory() as project:
        print(json.dumps(asyncio.run(measure(args.model, args.warm, args.tool_style, Path(project), baseline))))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--warm", type=int, default=5)
    parser.add_argument("--model", default=None)
    parser.add_argument("--tool-style", default="code", choices=("direct", "code", "both", "none"))
    parser.add_argument("--rounds", type=int, default=2, help="processes per variant, interleaved")
    parser.add_argument("--variant", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.variant is not None:
        _child(args)
        return
    with tempfile.TemporaryDirectory() as tmp:
        model = args.model or _fabricate(Path(tmp))
        results: dict[str, list[list[float]]] = {v: [] for v in VARIANTS}
        for _ in range(args.rounds):
            for variant in VARIANTS:
                results[variant].append(_run_child(variant, model, args))
    _table(results, args)


def _run_child(variant: str, model: str, args: argparse.Namespace) -> list[float]:
    env = dict(os.environ)
    if Path(OPENBLAS).exists():
        env["LD_PRELOAD"] = OPENBLAS
    command = [sys.executable, "-m", "benchmarks.first_prompt", "--variant", variant, "--model", model,
               "--warm", str(args.warm), "--tool-style", args.tool_style]  # fmt: skip
    out = subprocess.run(command, env=env, capture_output=True, text=True, check=True).stdout
    times: list[float] = json.loads(out.strip().splitlines()[-1])
    return times  # the last item: the prompt's tokens


def _fabricate(scratch: Path) -> str:
    from tests.support.fabricate import ModelShape, write_random_model

    return str(write_random_model(scratch / "small-dense", ModelShape(**SMALL)))


def _table(results: dict[str, list[list[float]]], args: argparse.Namespace) -> None:
    print(f"time to first event through CoreService.run_turn (tool style {args.tool_style}), ms; "
          f"{args.rounds} processes per variant, warm = median of {args.warm} per process")  # fmt: skip
    print(f"{'variant':34} {'first':>8} {'warm':>8} {'first/warm':>11} {'prompt':>8}")
    for variant, runs in results.items():
        for times in runs:
            first, warm, tokens = times[0], statistics.median(times[1:-1]), int(times[-1])
            print(f"{variant:34} {first * 1000:8.0f} {warm * 1000:8.0f} {first / warm:10.2f}× {tokens:>8}")
    print("target: first/warm ≤ 1.2×")


if __name__ == "__main__":
    main()
