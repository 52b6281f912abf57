"""Code mode vs direct tools on a scripted multi-step task, through the real `punie serve`.

    python benchmarks/codemode.py [--calls 20] [--rounds 3] [--skip-mlx]

1. a find → read → edit → test task: model requests and wall time with direct tools (one
   model request per step) and with one `run_code` program;
2. the sandbox's own overhead per inner call: N `read_file` calls from one program vs N direct
   calls, wall time per call (the scripted model answers instantly, so this is punie's cost).
   In 1 and 2 the model is the scripted one (`--model script:FILE`): it costs no tokens, so
   what differs is punie's own work; on a real model each saved request saves a prefill of the
   previous result and a decode of the next step.
3. code mode vs direct tools on a fabricated mlx model: tokens prefilled and decoded, wall time.

The fabricated scripted Qwen3 (tests.support.fabricate) has two replies: its first, and the
one it gives once a tool result is in context, each piece a distinct token (so one reply holds
at most one tool call). Hence:

- code:   first reply = one `run_code` call whose program greps, reads, edits and tests, then
  the answer: the whole four-step task in two model requests;
- direct: first reply = the task's first step (grep), then the answer: the cost of ONE step.
  The dependent four-step chain needs five requests (table 1 counts them with the scripted
  model); the fabricated model cannot script it. Its "tokens decoded" count one token per
  scripted piece (a whole program is one token), so only the prompt side is comparable.

Both run through the real core (CoreService → TurnRunner → MlxBackend, KV cache on) on the
same project; the numbers come from the engine's own per-request stats.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

OPENBLAS = "/usr/lib/x86_64-linux-gnu/openblas-pthread/libopenblas.so.0"
if Path(OPENBLAS).exists() and OPENBLAS not in os.environ.get("LD_PRELOAD", ""):
    os.environ["LD_PRELOAD"] = OPENBLAS  # mlx's CPU wheel: fp32 matmuls much faster (see mlx_backend.py)
    os.execv(sys.executable, [sys.executable, *sys.argv])

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from punie_acp.config import Settings  # noqa: E402
from punie_acp.core.events import Event, ToolStarted, UsageReported  # noqa: E402
from punie_acp.core.host import LocalHost  # noqa: E402
from punie_acp.core.service import CoreService  # noqa: E402
from punie_acp.models.mlx import MlxBackend  # noqa: E402
from punie_acp.tools.registry import default_tools  # noqa: E402
from tests.e2e.scripts import write_script  # noqa: E402
from tests.support.acp_client import RecordingClient, punie_server, start_session, text_prompt  # noqa: E402
from tests.support.fabricate import SCRIPTED, Script, write_scripted_model  # noqa: E402

DIRECT_TASK: list[list[dict[str, Any]]] = [
    [{"call": "grep", "args": {"pattern": "def add"}}],
    [{"call": "read_file", "args": {"path": "calc.py"}}],
    [{"call": "edit_file", "args": {"path": "calc.py", "old_text": "a - b", "new_text": "a + b"}}],
    [{"call": "run_pytest", "args": {}}],
    [{"say": "Fixed add()."}],
]
CODE_TASK_PROGRAM = """\
hits = await grep('def add')
source = await read_file(hits[0]['path'])
if 'a - b' in source:
    await edit_file(hits[0]['path'], 'a - b', 'a + b')
(await run_pytest())[-200:]
"""
CODE_TASK: list[list[dict[str, Any]]] = [
    [{"call": "run_code", "args": {"code": CODE_TASK_PROGRAM}}],
    [{"say": "Fixed add()."}],
]


def project(base: Path) -> Path:
    root = base / "project"
    root.mkdir()
    (root / "calc.py").write_text("def add(a, b):\n    return a - b\n")
    (root / "test_calc.py").write_text("from calc import add\n\n\ndef test_add():\n    assert add(2, 3) == 5\n")
    for i in range(30):
        (root / f"f{i}.txt").write_text(f"file {i}\n")
    return root


async def run_turn(responses: list[list[dict[str, Any]]], style: str) -> tuple[float, int, str]:
    """Wall time of one turn, tool calls seen, and the final content of calc.py."""
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        root = project(base)
        model = write_script(base, responses)
        client = RecordingClient(permission="allow_always")
        args = ("--tool-style", style, "--mode", "auto-edit")
        async with punie_server(client, model, base, *args) as (conn, _):
            sid = await start_session(conn, client, root)
            start = time.perf_counter()
            await conn.prompt(session_id=sid, prompt=text_prompt("fix add"))
            elapsed = time.perf_counter() - start
        calls = {e.tool_call_id for e in client.tool_events(sid)}
        return elapsed, len(calls), (root / "calc.py").read_text()


def many_reads(calls: int) -> tuple[list[list[dict[str, Any]]], list[list[dict[str, Any]]]]:
    direct: list[list[dict[str, Any]]] = [
        [{"call": "read_file", "args": {"path": f"f{i}.txt"}}] for i in range(calls)
    ] + [[{"say": "ok"}]]
    program = f"[len(await read_file(f'f{{i}}.txt')) for i in range({calls})]"
    code: list[list[dict[str, Any]]] = [[{"call": "run_code", "args": {"code": program}}], [{"say": "ok"}]]
    return direct, code


ANSWER = Script(("Fixed", " add", "()."))


def call(name: str, arguments: dict[str, object]) -> tuple[str, ...]:
    return ("<tool_call>", "\n" + json.dumps({"name": name, "arguments": arguments}) + "\n", "</tool_call>")


DIRECT_FIRST = Script(call("grep", {"pattern": "def add"}))
CODE_FIRST = Script(call("run_code", {"code": CODE_TASK_PROGRAM}))


async def run_mlx(model: Path, style: str, base: Path) -> dict[str, float]:
    settings = Settings(model=str(model), tool_style=style, mode="auto-edit")
    backend = MlxBackend(str(model), settings)
    core = CoreService(backend, settings, default_tools(style))
    host = LocalHost(policy="allow_once")
    usage: list[UsageReported] = []
    calls: list[str] = []

    async def emit(event: Event) -> None:
        if isinstance(event, UsageReported):
            usage.append(event)
        elif isinstance(event, ToolStarted):
            calls.append(event.name)

    core.start()
    try:
        root = project(base)
        session = core.open_session(str(root), lambda _sid: host)

        async def ignore(text: str) -> None:
            return None

        await backend.ensure_ready(ignore)
        before = len(backend.engine.history)
        start = time.perf_counter()
        await core.run_turn(session.id, "fix add", emit)
        wall = time.perf_counter() - start
        jobs = list(backend.engine.history)[before:]
    finally:
        await core.aclose()
    return {
        "requests": len(jobs),
        "prompt": sum(job.prompt_tokens for job in jobs),
        "prefilled": sum(job.prefilled_tokens for job in jobs),
        "decoded": sum(job.generated_tokens for job in jobs),
        "wall": wall,
        "calls": len(calls),
        "fixed": float("a + b" in (root / "calc.py").read_text()),
    }


async def mlx_table() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        models = {
            "direct": write_scripted_model(work / "direct", DIRECT_FIRST, ANSWER, shape=SCRIPTED),
            "code": write_scripted_model(work / "code", CODE_FIRST, ANSWER, shape=SCRIPTED),
        }
        header = ("style (task done)", "model requests", "prompt tokens", "tokens prefilled", "tokens decoded")
        print("| " + " | ".join((*header, "tool calls", "wall s")) + " |")
        print("|---" * (len(header) + 2) + "|")
        for style, model in models.items():
            (work / f"project-{style}").mkdir()
            numbers = await run_mlx(model, style, work / f"project-{style}")
            assert numbers["fixed"] or style == "direct", f"{style}: the task was not done"
            done = "all 4 steps" if numbers["fixed"] else "1 step of 4"
            counts = [f"{numbers[key]:.0f}" for key in ("requests", "prompt", "prefilled", "decoded", "calls")]
            print("| " + " | ".join((f"{style} ({done})", *counts, f"{numbers['wall']:.2f}")) + " |")


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--skip-mlx", action="store_true")
    options = parser.parse_args()
    print("| task | style | model requests | tool calls shown | wall s (median) |")
    print("|---|---|---|---|---|")
    for name, direct, code in [
        ("find→read→edit→test", DIRECT_TASK, CODE_TASK),
        (f"{options.calls}× read_file", *many_reads(options.calls)),
    ]:
        for style, responses in (("direct", direct), ("code", code)):
            times = []
            for _ in range(options.rounds):
                elapsed, shown, calc = await run_turn(responses, style)
                times.append(elapsed)
            assert "a + b" in calc or "read_file" in name, calc
            median = statistics.median(times)
            print(f"| {name} | {style} | {len(responses)} | {shown} | {median:.3f} |")
    print(f"\nper inner call vs per direct call: see the {options.calls}× read_file rows (wall s / {options.calls}).\n")
    if not options.skip_mlx:
        await mlx_table()


if __name__ == "__main__":
    asyncio.run(main())
