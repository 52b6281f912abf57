"""ACP streaming throughput, per-turn overhead and cancel latency of `punie serve`.

Each punie number stands beside a floor measured in the same run: a bare ACP SDK agent
(this file, run with --bare-agent) that does nothing but stream the same chunks.

    python benchmarks/acp_stream.py [--chunks 20000] [--turns 50] [--cancels 30]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, cast

import acp
from acp import schema

HERE = Path(__file__).resolve()
WORD = "tok"


# ---------------------------------------------------------------------------------------------
# The floor: a bare agent. Prompt text "stream N D" streams N chunks with D seconds between.


class BareAgent:
    def __init__(self) -> None:
        self._conn: Any = None
        self._tasks: dict[str, asyncio.Task[None]] = {}

    def on_connect(self, conn: Any) -> None:
        self._conn = conn

    async def initialize(self, protocol_version: int, **kwargs: Any) -> schema.InitializeResponse:
        return schema.InitializeResponse(protocol_version=1)

    async def new_session(self, cwd: str, **kwargs: Any) -> schema.NewSessionResponse:
        return schema.NewSessionResponse(session_id=f"s{len(self._tasks)}-{time.monotonic_ns()}")

    async def prompt(self, prompt: list[Any], session_id: str, **kwargs: Any) -> schema.PromptResponse:
        _, n, delay = prompt[0].text.split()
        task = asyncio.create_task(self._stream(session_id, int(n), float(delay)))
        self._tasks[session_id] = task
        try:
            await task
        except asyncio.CancelledError:
            return schema.PromptResponse(stop_reason="cancelled")
        return schema.PromptResponse(stop_reason="end_turn")

    async def _stream(self, session_id: str, n: int, delay: float) -> None:
        for i in range(n):
            if delay:
                await asyncio.sleep(delay)
            await self._conn.session_update(
                session_id=session_id, update=acp.update_agent_message_text(f" {WORD}" if i else WORD)
            )

    async def cancel(self, session_id: str, **kwargs: Any) -> None:
        task = self._tasks.get(session_id)
        if task:
            task.cancel()


# ---------------------------------------------------------------------------------------------
# The client side.


class CountingClient:
    def __init__(self) -> None:
        self.chunks = 0
        self.words = 0
        self.first_chunk = asyncio.Event()

    def on_connect(self, conn: Any) -> None:
        return None

    async def session_update(self, session_id: str, update: Any, **kwargs: Any) -> None:
        if update.session_update == "agent_message_chunk":
            self.chunks += 1
            self.words += update.content.text.count(WORD)
            self.first_chunk.set()

    async def request_permission(self, **kwargs: Any) -> Any:
        raise acp.RequestError.method_not_found("session/request_permission")


def script(directory: Path, n: int, delay: float) -> str:
    path = directory / f"script-{n}-{delay}.json"
    words = " ".join([WORD] * n)
    path.write_text(json.dumps({"chunk_delay": delay, "responses": [[{"say": words}]]}))
    return f"script:{path}"


class Target:
    """How to start one server and what to prompt it with for N chunks."""

    def __init__(self, name: str, workdir: Path) -> None:
        self.name = name
        self.workdir = workdir

    def command(self, n: int, delay: float) -> list[str]:
        if self.name == "bare":
            return [sys.executable, str(HERE), "--bare-agent"]
        log = self.workdir / "punie.log"
        return [
            sys.executable,
            "-m",
            "punie_acp",
            "serve",
            "--model",
            script(self.workdir, n, delay),
            "--log-file",
            str(log),
        ]

    def prompt(self, n: int, delay: float) -> str:
        return f"stream {n} {delay}"


async def _session(target: Target, n: int, delay: float) -> tuple[Any, Any, CountingClient, str]:
    client = CountingClient()
    cmd = target.command(n, delay)
    # A minimal client: the benchmark's agents never call the editor's optional methods.
    ctx = acp.spawn_agent_process(cast(acp.Client, client), cmd[0], *cmd[1:], env=dict(__import__("os").environ))
    conn, _proc = await ctx.__aenter__()
    await conn.initialize(protocol_version=1)
    sid = (await conn.new_session(cwd=str(target.workdir), mcp_servers=[])).session_id
    return ctx, conn, client, sid


async def throughput(target: Target, n: int) -> tuple[float, int]:
    """Model deltas (words) delivered per second, and how many messages carried them."""
    ctx, conn, client, sid = await _session(target, n, 0.0)
    try:
        start = time.perf_counter()
        await conn.prompt(session_id=sid, prompt=[acp.text_block(target.prompt(n, 0.0))])
        elapsed = time.perf_counter() - start
        assert client.words == n, (client.words, n)
        return n / elapsed, client.chunks
    finally:
        await ctx.__aexit__(None, None, None)


async def turn_latency(target: Target, turns: int) -> float:
    """Median wall time of a minimal turn (one chunk), as the client sees it."""
    ctx, conn, _client, sid = await _session(target, 1, 0.0)
    try:
        times = []
        for _ in range(turns):
            start = time.perf_counter()
            await conn.prompt(session_id=sid, prompt=[acp.text_block(target.prompt(1, 0.0))])
            times.append(time.perf_counter() - start)
        return statistics.median(times)
    finally:
        await ctx.__aexit__(None, None, None)


async def cancel_latency(target: Target, cancels: int) -> list[float]:
    out = []
    for _ in range(cancels):
        ctx, conn, client, sid = await _session(target, 100_000, 0.002)
        try:
            turn = asyncio.create_task(
                conn.prompt(session_id=sid, prompt=[acp.text_block(target.prompt(100_000, 0.002))])
            )
            await client.first_chunk.wait()
            await asyncio.sleep(0.05)
            start = time.perf_counter()
            await conn.cancel(session_id=sid)
            resp = await turn
            out.append(time.perf_counter() - start)
            assert resp.stop_reason == "cancelled", resp
        finally:
            await ctx.__aexit__(None, None, None)
    return out


async def pydantic_ai_alone(n: int, turns: int) -> tuple[float, float]:
    """PydanticAI's own cost, in-process: deltas/s for an n-word reply, and ms per one-word turn.

    The turns carry their history forward and declare punie's tools, as a punie session does,
    so what remains beside punie's number is punie's own code.
    """
    from pydantic_ai import Agent
    from pydantic_ai.messages import ModelMessage
    from pydantic_ai.toolsets import FunctionToolset

    from punie_acp.models.replay import Plan, Say
    from punie_acp.models.scripted import ScriptedModel
    from punie_acp.tools.registry import default_tools

    tools = FunctionToolset([t.function for t in default_tools()])
    history: list[ModelMessage] = []

    async def one_turn(words: int) -> int:
        nonlocal history
        agent: Agent[Any, str] = Agent(ScriptedModel([Plan([Say(" ".join([WORD] * words))])]), toolsets=[tools])
        deltas = 0
        async with agent.iter("go", message_history=history) as run:
            async for node in run:
                if Agent.is_model_request_node(node):
                    async with node.stream(run.ctx) as stream:
                        async for _event in stream:
                            deltas += 1
        history = run.all_messages()
        return deltas

    start = time.perf_counter()
    deltas = await one_turn(n)
    rate = deltas / (time.perf_counter() - start)
    history = []
    gc.collect()
    times = []
    for _ in range(turns):
        start = time.perf_counter()
        await one_turn(1)
        times.append(time.perf_counter() - start)
    return rate, statistics.median(times)


async def punie_in_process(turns: int) -> float:
    """Median ms of a one-word turn through punie's ACP agent and core, minus the pipes.

    The client connection is a stand-in that serializes each update as the SDK would.
    """
    from punie_acp.acp.agent import PunieAgent
    from punie_acp.config import Settings
    from punie_acp.core.service import CoreService
    from punie_acp.models.base import StatelessBackend
    from punie_acp.models.replay import Plan, Say
    from punie_acp.models.scripted import ScriptedModel
    from punie_acp.tools.registry import default_tools

    class SerializingConnection:
        async def session_update(self, session_id: str, update: Any) -> None:
            acp.session_notification(session_id, update).model_dump(mode="json", by_alias=True, exclude_none=True)

    model = ScriptedModel([Plan([Say(WORD)])])
    agent = PunieAgent(CoreService(StatelessBackend(model, "bench"), Settings(), default_tools()))
    agent.on_connect(cast(acp.Client, SerializingConnection()))  # only session_update is called
    with tempfile.TemporaryDirectory() as root:
        sid = (await agent.new_session(cwd=root)).session_id
        gc.collect()
        times = []
        for _ in range(turns):
            start = time.perf_counter()
            await agent.prompt([acp.text_block("go")], sid)
            times.append(time.perf_counter() - start)
    return statistics.median(times)


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def main(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        punie, bare = Target("punie", work), Target("bare", work)
        rows: list[tuple[str, str, str, str, str]] = []

        (p_tp, p_msgs), (b_tp, b_msgs) = await throughput(punie, args.chunks), await throughput(bare, args.chunks)
        rows.append(("model deltas/s through stdio", f"{p_tp:,.0f}", f"{b_tp:,.0f}", f"{p_tp / b_tp:.2f}×", "≥ 20,000"))
        rows.append(("  chunks that carried them", f"{p_msgs:,}", f"{b_msgs:,}", "", "(merged under backpressure)"))
        pa_rate, pa_turn = await pydantic_ai_alone(args.chunks, args.turns)
        rows.append(("  PydanticAI alone, in-process", f"{pa_rate:,.0f}", "", "", "(ceiling)"))

        p_turn, b_turn = await turn_latency(punie, args.turns), await turn_latency(bare, args.turns)
        overhead_ms = (p_turn - b_turn) * 1000
        rows.append(
            (
                "minimal turn, median ms",
                f"{p_turn * 1000:.2f}",
                f"{b_turn * 1000:.2f}",
                f"+{overhead_ms:.2f} ms",
                "overhead ≤ 2 ms",
            )
        )
        inproc = await punie_in_process(args.turns)
        _, pa_turn = await pydantic_ai_alone(1, args.turns)  # again, back to back with the line above
        rows.append(("  in-process, no pipes, ms", f"{inproc * 1000:.2f}", "", "", ""))
        rows.append(
            (
                "  of which PydanticAI run, ms",
                f"{pa_turn * 1000:.2f}",
                "",
                f"punie's own: {(inproc - pa_turn) * 1000:+.2f} ms",
                "",
            )
        )

        p_c, b_c = await cancel_latency(punie, args.cancels), await cancel_latency(bare, args.cancels)
        for q, label in ((0.5, "p50"), (0.95, "p95")):
            pv, bv = pct(p_c, q) * 1000, pct(b_c, q) * 1000
            rows.append((f"cancel → response {label} ms", f"{pv:.2f}", f"{bv:.2f}", f"+{pv - bv:.2f} ms", "≤ 100 ms"))

    header = ("measure", "punie", "bare ACP agent", "punie vs floor", "target")
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(5)]
    for row in [header, tuple("-" * w for w in widths), *rows]:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)))
    print(f"\n(chunks={args.chunks}, turns={args.turns}, cancels={args.cancels}; Python {sys.version.split()[0]})")


if __name__ == "__main__":
    if "--bare-agent" in sys.argv:
        asyncio.run(acp.run_agent(cast(acp.Agent, BareAgent())))  # implements only what the benchmark calls
        raise SystemExit(0)
    parser = argparse.ArgumentParser()
    parser.add_argument("--chunks", type=int, default=20_000)
    parser.add_argument("--turns", type=int, default=50)
    parser.add_argument("--cancels", type=int, default=20)
    asyncio.run(main(parser.parse_args()))
