"""The editor's MCP servers for a session: started, their tools offered with a name prefix, gated.

An MCP tool is not known to be safe, so each call is treated as an `execute` action: it asks in
ask and auto-edit mode and is refused in read-only mode, like `run_command`. Every tool name
gets the prefix `mcp_<server>_` (no punie tool starts with `mcp_`), so a server cannot shadow
a punie tool. What a hostile server can do is contained per call: a result is cut to
`MAX_RESULT_CHARS`, a call that never answers times out, a server that dies or never starts
makes its calls fail (or offers no tools) with one line, never the turn.

Stdio servers run under `tools/mcp_launcher.py`, so they and everything they start die with
punie, SIGKILL included. They stay up between turns and stop when the session closes.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
from pydantic_ai import RunContext
from pydantic_ai.exceptions import ToolFailed
from pydantic_ai.toolsets import AbstractToolset, WrapperToolset
from pydantic_ai.toolsets.abstract import ToolsetTool

from punie_acp.core.context import ToolContext
from punie_acp.core.events import ToolProgress
from punie_acp.core.host import PermissionRequest
from punie_acp.core.toolset import _is_control_flow, one_line

log = logging.getLogger(__name__)

PREFIX = "mcp_"
LAUNCHER = Path(__file__).parent.parent / "tools" / "mcp_launcher.py"
MAX_RESULT_CHARS = 64 * 1024
START_TIMEOUT_S = 30.0
# The MCP client closes the server's stdin, waits 2 s, sends SIGTERM and SIGKILLs 2 s later: the
# launcher's own SIGTERM-to-SIGKILL grace must end well inside that, or it dies mid-sweep.
KILL_GRACE_S = 0.5
MAX_SERVERS = 16
# What one server may put in front of the model: its tools' definitions are sent with every request.
MAX_TOOLS_PER_SERVER = 64
MAX_DESCRIPTION_CHARS = 1024
MAX_SCHEMA_CHARS = 8 * 1024
_TOOL_NAME = re.compile(r"[A-Za-z0-9_.-]{1,64}")


@dataclass(frozen=True)
class McpServerSpec:
    """One stdio MCP server as the editor described it. (HTTP is not offered: `mcpCapabilities.http`
    stays false until it is built and tested.)"""

    name: str
    command: str
    args: tuple[str, ...] = ()
    env: dict[str, str] = field(default_factory=dict)


def server_prefix(name: str, taken: set[str]) -> str:
    """`mcp_<name>_`, the name reduced to [a-z0-9] and made unique among the session's servers.

    No underscore inside the name: server `a` with tool `b_c` and server `a_b` with tool `c` would
    otherwise both give `mcp_a_b_c`.
    """
    base = re.sub(r"[^a-z0-9]+", "", name.lower())[:24] or "server"
    prefix, n = f"{PREFIX}{base}_", 2
    while prefix in taken:
        prefix, n = f"{PREFIX}{base}{n}_", n + 1
    taken.add(prefix)
    return prefix


def tool_title(name: str) -> str | None:
    """How a prefixed MCP tool call is titled in the editor; None for a name that is not one."""
    if not name.startswith(PREFIX):
        return None
    return f"MCP tool {name[len(PREFIX) :]}"


class GatedMcpToolset(WrapperToolset[ToolContext]):
    """One server's prefixed tools, each call asking permission as an `execute` action."""

    def __init__(self, wrapped: AbstractToolset[ToolContext], label: str, timeout: float) -> None:
        super().__init__(wrapped)
        self.server = label
        self.timeout = timeout
        self.failure: str | None = None
        self._entered = False

    async def __aenter__(self) -> GatedMcpToolset:
        if self.failure is not None:
            return self
        try:
            with anyio.fail_after(START_TIMEOUT_S):
                await self.wrapped.__aenter__()
            self._entered = True
        except Exception as exc:
            # One broken server must not take the turn down: it offers no tools, and the log says why.
            self.failure = one_line(exc)
            log.warning("MCP server %s did not start: %s", self.server, self.failure, exc_info=True)
        return self

    async def __aexit__(self, *args: Any) -> bool | None:
        if self._entered:
            self._entered = False
            try:
                await self.wrapped.__aexit__(*args)
            except Exception:
                log.info("MCP server %s: error while leaving the turn", self.server, exc_info=True)
        return None

    async def get_tools(self, ctx: RunContext[ToolContext]) -> dict[str, ToolsetTool[ToolContext]]:
        if self.failure is not None or not self._entered:
            return {}
        try:
            with anyio.fail_after(START_TIMEOUT_S):
                tools = await self.wrapped.get_tools(ctx)
        except Exception as exc:
            log.warning("MCP server %s: listing its tools failed: %s", self.server, one_line(exc))
            return {}
        return bounded_tools(tools, self.server)

    async def call_tool(
        self, name: str, tool_args: dict[str, Any], ctx: RunContext[ToolContext], tool: ToolsetTool[ToolContext]
    ) -> Any:
        deps = ctx.deps
        call_id = ctx.tool_call_id or ""
        title = tool_title(name) or name

        async def started() -> None:
            await deps.emit(ToolProgress(call_id=call_id, started=True))

        gate = deps.permissions.for_call(call_id, title, started)
        await gate.require("execute", PermissionRequest(call_id, title, "execute", dict(tool_args)))
        try:
            with anyio.fail_after(self.timeout):
                result = await self.wrapped.call_tool(name, tool_args, ctx, tool)
        except TimeoutError:
            raise ToolFailed(
                f"{title}: the MCP server {self.server} did not answer within {self.timeout:g} s"
            ) from None
        except Exception as exc:
            if _is_control_flow(exc) and not isinstance(exc, ToolFailed):
                raise
            raise ToolFailed(f"{title} failed: {one_line(exc)}") from None
        return _capped(result)


def bounded_tools(tools: dict[str, ToolsetTool[ToolContext]], server: str) -> dict[str, ToolsetTool[ToolContext]]:
    """A server's tools as the model may see them: plain names, short descriptions, a bounded count."""
    kept: dict[str, ToolsetTool[ToolContext]] = {}
    for name, tool in tools.items():
        if len(kept) >= MAX_TOOLS_PER_SERVER:
            log.warning("MCP server %s offers more than %d tools; the rest are left out", server, MAX_TOOLS_PER_SERVER)
            break
        schema_size = len(json.dumps(tool.tool_def.parameters_json_schema, default=str))
        if not _TOOL_NAME.fullmatch(name) or schema_size > MAX_SCHEMA_CHARS:
            log.warning("MCP server %s: tool %r left out (odd name or oversized schema)", server, name[:80])
            continue
        description = tool.tool_def.description or ""
        if len(description) > MAX_DESCRIPTION_CHARS:
            short = description[: MAX_DESCRIPTION_CHARS - 1] + "…"
            tool = dataclasses.replace(tool, tool_def=dataclasses.replace(tool.tool_def, description=short))
        kept[name] = tool
    return kept


def _capped(result: Any) -> Any:
    text = result if isinstance(result, str) else None
    if text is None:
        try:
            text = json.dumps(result, default=str, ensure_ascii=False)
        except (TypeError, ValueError):
            text = str(result)
        if len(text) <= MAX_RESULT_CHARS:
            return result
    if len(text) <= MAX_RESULT_CHARS:
        return text
    return text[:MAX_RESULT_CHARS] + f"\n[cut: the MCP tool returned {len(text):,} characters]"


@dataclass
class SessionMcp:
    """The MCP servers of one session."""

    toolsets: list[GatedMcpToolset]
    clients: list[Any]  # each server's FastMCP client (owns its subprocess)

    async def aclose(self) -> None:
        for client in self.clients:
            try:
                with anyio.fail_after(START_TIMEOUT_S), anyio.CancelScope(shield=True):
                    await client.close()
            except Exception:
                log.info("closing an MCP server failed", exc_info=True)
        self.clients.clear()


def start_servers(specs: Sequence[McpServerSpec], root: Path, timeout: float) -> SessionMcp:
    """Toolsets for `specs` (each server starts at its first turn and stays up until `aclose`)."""
    from pydantic_ai.mcp import MCPToolset

    taken: set[str] = set()
    toolsets: list[GatedMcpToolset] = []
    clients: list[Any] = []
    if len(specs) > MAX_SERVERS:
        log.warning("%d MCP servers offered; only the first %d are started", len(specs), MAX_SERVERS)
    for spec in specs[:MAX_SERVERS]:
        prefix = server_prefix(spec.name, taken).rstrip("_")
        launcher, *launcher_args = _launcher_argv()
        # A one-server MCP config: FastMCP runs it over stdio and, kept alive, between turns too.
        config = {
            "command": launcher,
            "args": [*launcher_args, "--", spec.command, *spec.args],
            "env": dict(spec.env),
            "cwd": str(root),
            "keep_alive": True,
        }
        mcp: MCPToolset[ToolContext] = MCPToolset(
            {"mcpServers": {prefix: config}}, id=prefix, tool_error_behavior="failed", init_timeout=START_TIMEOUT_S
        )
        toolsets.append(GatedMcpToolset(mcp.prefixed(prefix), spec.name[:80], timeout))
        clients.append(mcp.client)
    return SessionMcp(toolsets, clients)


def _launcher_argv() -> list[str]:
    return [sys.executable, "-I", "-S", str(LAUNCHER), str(os.getpid()), repr(KILL_GRACE_S)]
