"""Turning `AgentTool`s into the PydanticAI toolset a session's agent runs.

`ReportingToolset` owns two rules for every tool call:

- when the call is reported started (`in_progress`): at once for tools that never ask
  permission, and on the grant for those that do (tools of a state-changing kind: edit,
  delete, move, execute). The start comes from the call's permission gate, so a tool that asks
  cannot forget it, and one that asks without being of such a kind fails loudly.
- what an unexpected exception becomes: a failed tool call with one line the model and the
  user can read; the traceback goes to the log. A cancelled permission prompt and task
  cancellation pass through (they end the turn), as do PydanticAI's own control exceptions.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterable, Mapping
from typing import Any

from pydantic_ai import RunContext
from pydantic_ai.exceptions import ToolFailed
from pydantic_ai.toolsets import AbstractToolset, FunctionToolset, WrapperToolset
from pydantic_ai.toolsets.abstract import ToolsetTool

from punie_acp.core.context import ToolContext
from punie_acp.core.events import ToolKind, ToolProgress
from punie_acp.core.permissions import PermissionCancelled
from punie_acp.core.tooling import AgentTool

log = logging.getLogger(__name__)

# Bad arguments from a small local model are common; let it correct itself a few times.
TOOL_RETRIES = 3
# Tools of these kinds change things, so they ask permission (per the mode) before they run.
GATED_KINDS: frozenset[ToolKind] = frozenset({"edit", "delete", "move", "execute"})


def _is_control_flow(exc: Exception) -> bool:
    """Exceptions that are not failures of the tool: they mean something to the turn or to PydanticAI."""
    if isinstance(exc, PermissionCancelled):
        return True
    # ToolFailed, ModelRetry, CallDeferred, … and our own subclasses of them (ActionDenied).
    return any(cls.__module__.startswith("pydantic_ai") for cls in type(exc).__mro__)


def one_line(exc: BaseException, limit: int = 300) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= limit else text[: limit - 1] + "…"


@dataclasses.dataclass
class ReportingToolset(WrapperToolset[ToolContext]):
    """Reports each call's start to the editor at the right moment, and contains unexpected failures."""

    tools: Mapping[str, AgentTool] = dataclasses.field(default_factory=dict)

    async def call_tool(
        self, name: str, tool_args: dict[str, Any], ctx: RunContext[ToolContext], tool: ToolsetTool[ToolContext]
    ) -> Any:
        call_id = ctx.tool_call_id
        if call_id is not None:
            ctx = await self._for_call(name, call_id, tool_args, ctx)
        try:
            return await self.wrapped.call_tool(name, tool_args, ctx, tool)
        except Exception as exc:
            if _is_control_flow(exc):
                raise
            log.exception("tool %s (call %s) failed unexpectedly", name, call_id)
            raise ToolFailed(
                f"{name} failed unexpectedly ({type(exc).__name__}: {one_line(exc)}); details are in punie's log"
            ) from exc

    async def _for_call(
        self, name: str, call_id: str, tool_args: dict[str, Any], ctx: RunContext[ToolContext]
    ) -> RunContext[ToolContext]:
        """The context this call's tool sees: a permission gate bound to the call's id and title."""
        deps = ctx.deps
        agent_tool = self.tools.get(name)
        title = agent_tool.title(tool_args) if agent_tool is not None else name
        started = False

        async def start() -> None:
            nonlocal started
            if not started:
                started = True
                await deps.emit(ToolProgress(call_id=call_id, started=True))

        gated = agent_tool is not None and agent_tool.kind in GATED_KINDS
        gate = deps.permissions.for_call(call_id, title, start if gated else None)
        if not gated:
            await start()
        return dataclasses.replace(ctx, deps=dataclasses.replace(deps, permissions=gate))


def build_toolset(tools: Iterable[AgentTool]) -> AbstractToolset[ToolContext]:
    tools = list(tools)
    toolset: FunctionToolset[ToolContext] = FunctionToolset(max_retries=TOOL_RETRIES)
    for tool in tools:
        toolset.add_function(tool.function, takes_ctx=True, name=tool.name)
    return ReportingToolset(toolset, tools=by_name(tools))


def by_name(tools: Iterable[AgentTool]) -> Mapping[str, AgentTool]:
    return {tool.name: tool for tool in tools}
