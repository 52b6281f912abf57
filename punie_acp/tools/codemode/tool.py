"""`run_code`: one model step runs a Python program that calls the workspace tools.

The program runs in the Monty sandbox (`sandbox.py`); each call it makes is a real tool call
(`inner.py`). Its description carries the typed stubs of those functions (`stubs.py`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import anyio
from pydantic_ai import RunContext
from pydantic_ai.exceptions import ToolFailed

from punie_acp.core.context import ToolContext
from punie_acp.core.permissions import PermissionCancelled
from punie_acp.core.tooling import AgentTool
from punie_acp.core.toolset import build_toolset, by_name
from punie_acp.tools.codemode.inner import InnerCalls
from punie_acp.tools.codemode.sandbox import Limits, run_program
from punie_acp.tools.codemode.stubs import stubs

# The plan is the model's own voice to the user, not a workspace action: it stays a direct tool.
NOT_INSIDE = frozenset({"update_plan", "run_code"})
OUTPUT_BYTES = 1 << 20

DESCRIPTION = """Run a short Python program that calls the project's tools as async functions, \
and get one result back. Use it to do several steps at once: loops, filtering results, \
several calls in parallel with `asyncio.gather`.
The value of the program's last expression is returned (print() output too). Only these \
functions reach the project: no open(), no network, no processes, no imports but the \
standard modules Monty offers (asyncio, re, json, ...). A failed call raises PermissionError \
(refused), TypeError (bad arguments) or RuntimeError (any other failure). The program is \
type-checked against these stubs before it runs; await every call:
```python
{stubs}
```"""


def _title(args: Mapping[str, Any]) -> str:
    code = args.get("code")
    if not isinstance(code, str) or not code.strip():
        return "Run code"
    lines = code.strip().splitlines()
    return f"Run code ({len(lines)} line{'s' if len(lines) != 1 else ''}): {lines[0][:80]}"


def code_tool(tools: Sequence[AgentTool]) -> AgentTool:
    """The `run_code` tool over `tools` (those that make sense inside a program)."""
    inner_tools = [tool for tool in tools if tool.name not in NOT_INSIDE]
    inner_by_name = by_name(inner_tools)
    toolset = build_toolset(inner_tools)
    stub_text = stubs(inner_tools)

    async def run_code(ctx: RunContext[ToolContext], code: str) -> str:
        settings = ctx.deps.settings
        limits = Limits(
            seconds=settings.code_time_limit,
            memory_bytes=settings.code_memory_mb * 1024 * 1024,
            max_calls=settings.code_max_calls,
            output_bytes=OUTPUT_BYTES,
        )
        outer_id = ctx.tool_call_id or "run_code"
        scope = anyio.CancelScope()
        inner = InnerCalls(ctx, outer_id, toolset, inner_by_name, limits.max_calls, scope.cancel)
        outcome = await run_program(code, inner.functions(), stub_text, limits, scope)
        if inner.cancelled is not None:
            raise PermissionCancelled(outer_id, str(inner.cancelled))
        summary = f"[{inner.made} tool call{'s' if inner.made != 1 else ''} made]"
        if outcome.status != "ok":
            raise ToolFailed(f"{outcome.text}\n{summary}")
        return f"{outcome.text}\n{summary}" if outcome.text else summary

    run_code.__doc__ = DESCRIPTION.format(stubs=stub_text.strip())
    return AgentTool(run_code, kind="other", title=_title)
