"""Code mode vs direct tools on a scripted multi-step task, through the real `punie serve`.

    python benchmarks/codemode.py [--calls 20] [--rounds 3]

1. a find → read → edit → test task: model requests and wall time with direct tools (one
   model request per step) and with one `run_code` program;
2. the sandbox's own overhead per inner call: N `read_file` calls from one program vs N direct
   calls, wall time per call (the scripted model answers instantly, so this is punie's cost).

The model is the scripted one (`--model script:FILE`): it costs no tokens, so what differs is
punie's own work; on a real model each saved request saves a prefill of the previous result
and a decode of the next step.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.e2e.scripts import write_script
from tests.support.acp_client import RecordingClient, punie_server, start_session, text_prompt

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


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=3)
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
    print(f"\nper inner call vs per direct call: see the {options.calls}× read_file rows (wall s / {options.calls}).")


if __name__ == "__main__":
    asyncio.run(main())
