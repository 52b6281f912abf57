"""Turning `AgentTool`s into the PydanticAI toolset a session's agent runs."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from pydantic_ai import RunContext
from pydantic_ai.toolsets import AbstractToolset, FunctionToolset, WrapperToolset
from pydantic_ai.toolsets.abstract import ToolsetTool

from punie_acp.core.context import ToolContext
from punie_acp.core.events import ToolProgress
from punie_acp.core.tooling import AgentTool

# Bad arguments from a small local model are common; let it correct itself a few times.
TOOL_RETRIES = 3


class ReportingToolset(WrapperToolset[ToolContext]):
    """Tells the editor the moment a tool's code starts (arguments valid, about to run)."""

    async def call_tool(
        self, name: str, tool_args: dict[str, Any], ctx: RunContext[ToolContext], tool: ToolsetTool[ToolContext]
    ) -> Any:
        if ctx.tool_call_id is not None:
            await ctx.deps.emit(ToolProgress(call_id=ctx.tool_call_id, started=True))
        return await self.wrapped.call_tool(name, tool_args, ctx, tool)


def build_toolset(tools: Iterable[AgentTool]) -> AbstractToolset[ToolContext]:
    toolset: FunctionToolset[ToolContext] = FunctionToolset(max_retries=TOOL_RETRIES)
    for tool in tools:
        toolset.add_function(tool.function, takes_ctx=True, name=tool.name)
    return ReportingToolset(toolset)


def by_name(tools: Iterable[AgentTool]) -> Mapping[str, AgentTool]:
    return {tool.name: tool for tool in tools}
