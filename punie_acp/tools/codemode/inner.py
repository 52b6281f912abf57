"""Calls a program makes from inside the sandbox, each one a real tool call.

Every call goes through the same toolset a direct call does (`core.toolset.build_toolset`):
argument validation, the permission gate bound to its own call id (so the mode decides and
the editor asks on that call's card), the `in_progress` rule and the safety net. Each is
reported to the editor as its own tool call, with an id derived from the `run_code` call
(`<outer>.<n>`), a title that names it, and a line on the `run_code` card pointing to it.

Inside the program a failed call raises: `PermissionError` when refused, `TypeError` for
arguments the tool does not take, `RuntimeError` otherwise. A cancelled permission prompt ends
the whole turn, as it does for a direct call: the program is stopped (`stop`) and `run_code`
re-raises it once the sandbox is gone.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any

from pydantic import ValidationError
from pydantic_ai import RunContext
from pydantic_ai.toolsets import AbstractToolset
from pydantic_ai.toolsets.abstract import ToolsetTool

from punie_acp.core.context import ToolContext
from punie_acp.core.events import TextContent, ToolFinished, ToolStarted
from punie_acp.core.permissions import ActionDenied, PermissionCancelled
from punie_acp.core.tooling import AgentTool
from punie_acp.core.toolset import one_line
from punie_acp.tools.codemode.shapes import shaped
from punie_acp.tools.codemode.stubs import bind
from punie_acp.workspace.text import encodable, representable

TITLE_PREFIX = "run_code › "


@dataclasses.dataclass
class InnerCalls:
    ctx: RunContext[ToolContext]
    outer_id: str
    toolset: AbstractToolset[ToolContext]
    tools: Mapping[str, AgentTool]
    max_calls: int
    stop: Callable[[], None]
    made: int = 0
    cancelled: PermissionCancelled | None = None
    _toolset_tools: dict[str, ToolsetTool[ToolContext]] | None = None

    def functions(self) -> dict[str, Callable[..., Any]]:
        """What the sandbox resolves the tools' names to."""

        def bound(name: str) -> Callable[..., Any]:
            async def call(*args: Any, **kwargs: Any) -> Any:
                return await self.call(name, args, kwargs)

            return call

        return {name: bound(name) for name in self.tools}

    async def call(self, name: str, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> Any:
        if self.cancelled is not None:
            raise RuntimeError("not run: the turn is ending (a permission prompt was cancelled)")
        if self.made >= self.max_calls:
            raise RuntimeError(f"not run: a program may make at most {self.max_calls} tool calls")
        tool = self.tools[name]
        arguments = bind(tool, args, kwargs)  # a TypeError here is the program's, shown to it
        self.made += 1
        call_id = f"{self.outer_id}.{self.made}"
        await self._started(call_id, tool, arguments)
        try:
            result = await self._run(name, call_id, arguments)
        except PermissionCancelled as exc:
            self.cancelled = exc
            await self._finished(call_id, False, str(exc))
            self.stop()
            raise RuntimeError(f"{name}: {exc}") from None
        except ActionDenied as exc:
            await self._finished(call_id, False, str(exc))
            raise PermissionError(f"{name}: {exc}") from None
        except ValidationError as exc:
            text = f"{name}: bad arguments: {one_line(exc)}"
            await self._finished(call_id, False, text)
            raise TypeError(text) from None
        except Exception as exc:  # ToolFailed, ModelRetry, the safety net's ToolFailed
            text = f"{name} failed: {one_line(exc, 2000)}"
            await self._finished(call_id, False, text)
            raise RuntimeError(text) from None
        text = result if isinstance(result, str) else str(result)
        await self._finished(call_id, True, text)
        return shaped(name, text)

    async def _run(self, name: str, call_id: str, arguments: dict[str, Any]) -> Any:
        if self._toolset_tools is None:
            self._toolset_tools = await self.toolset.get_tools(self.ctx)
        toolset_tool = self._toolset_tools[name]
        validated = toolset_tool.args_validator.validate_python(arguments)
        ctx = dataclasses.replace(self.ctx, tool_call_id=call_id, tool_name=name)
        return await self.toolset.call_tool(name, validated, ctx, toolset_tool)

    async def _started(self, call_id: str, tool: AgentTool, arguments: dict[str, Any]) -> None:
        deps = self.ctx.deps
        shown = dict(representable(arguments))
        title = TITLE_PREFIX + tool.title(shown)
        locations = tool.locate(shown, deps.workspace)
        await deps.emit(ToolStarted(call_id, tool.name, tool.kind, title, shown, locations))
        await deps.report(self.outer_id, content=(TextContent(f"{self.made}. {title} [{call_id}]\n"),))

    async def _finished(self, call_id: str, ok: bool, text: str) -> None:
        text = encodable(text)[0]
        await self.ctx.deps.emit(ToolFinished(call_id, ok=ok, raw_output=text, content=(TextContent(text),)))
