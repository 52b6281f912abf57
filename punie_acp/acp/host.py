"""`EditorHost` over ACP: fs/*, terminal/* and session/request_permission on the client."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, Protocol

from acp import schema

from punie_acp.acp.updates import wire_content
from punie_acp.core.host import (
    HostCapabilities,
    PermissionOutcome,
    PermissionRequest,
    Terminal,
    TerminalExit,
    TerminalOutput,
    TerminalSpec,
)

PERMISSION_OPTIONS = [
    schema.PermissionOption(option_id="allow_once", name="Allow", kind="allow_once"),
    schema.PermissionOption(option_id="allow_always", name="Always allow", kind="allow_always"),
    schema.PermissionOption(option_id="reject_once", name="Reject", kind="reject_once"),
    schema.PermissionOption(option_id="reject_always", name="Always reject", kind="reject_always"),
]
_OUTCOMES: dict[str, PermissionOutcome] = {
    "allow_once": "allow_once",
    "allow_always": "allow_always",
    "reject_once": "reject_once",
    "reject_always": "reject_always",
}


class ClientConnection(Protocol):
    """The parts of `acp.AgentSideConnection` the host uses (a fake can stand in for tests)."""

    async def request_permission(
        self, session_id: str, tool_call: schema.ToolCallUpdate, options: list[schema.PermissionOption]
    ) -> schema.RequestPermissionResponse: ...

    async def read_text_file(
        self, session_id: str, path: str, line: int | None = None, limit: int | None = None
    ) -> schema.ReadTextFileResponse: ...

    async def write_text_file(self, session_id: str, path: str, content: str) -> object: ...

    async def create_terminal(
        self,
        session_id: str,
        command: str,
        args: list[str] | None = None,
        env: list[schema.EnvVariable] | None = None,
        cwd: str | None = None,
        output_byte_limit: int | None = None,
    ) -> schema.CreateTerminalResponse: ...

    async def terminal_output(self, session_id: str, terminal_id: str) -> schema.TerminalOutputResponse: ...

    async def wait_for_terminal_exit(self, session_id: str, terminal_id: str) -> schema.WaitForTerminalExitResponse: ...

    async def kill_terminal(self, session_id: str, terminal_id: str) -> object: ...

    async def release_terminal(self, session_id: str, terminal_id: str) -> object: ...


def capabilities_of(client: schema.ClientCapabilities | dict[str, Any] | None) -> HostCapabilities:
    """What the editor offers. The SDK is lenient: a value of the wrong type comes back as its
    default in plain-dict form (even nested), so read both shapes and trust only real `True`s."""
    fs = _field(client, "fs", "fs")
    return HostCapabilities(
        read_text_file=_field(fs, "read_text_file", "readTextFile") is True,
        write_text_file=_field(fs, "write_text_file", "writeTextFile") is True,
        terminal=_field(client, "terminal", "terminal") is True,
    )


def _field(value: object, attribute: str, key: str) -> object:
    if isinstance(value, dict):
        return value.get(key)
    return getattr(value, attribute, None)


class AcpTerminal:
    def __init__(self, conn: ClientConnection, session_id: str, terminal_id: str) -> None:
        self._conn = conn
        self._session_id = session_id
        self._id = terminal_id

    @property
    def terminal_id(self) -> str:
        return self._id

    async def output(self) -> TerminalOutput:
        resp = await self._conn.terminal_output(session_id=self._session_id, terminal_id=self._id)
        status = resp.exit_status
        exit_ = TerminalExit(status.exit_code, status.signal) if status is not None else None
        return TerminalOutput(resp.output, resp.truncated, exit_)

    async def wait_for_exit(self) -> TerminalExit:
        resp = await self._conn.wait_for_terminal_exit(session_id=self._session_id, terminal_id=self._id)
        return TerminalExit(resp.exit_code, resp.signal)

    async def kill(self) -> None:
        await self._conn.kill_terminal(session_id=self._session_id, terminal_id=self._id)

    async def release(self) -> None:
        await self._conn.release_terminal(session_id=self._session_id, terminal_id=self._id)


class AcpEditorHost:
    def __init__(self, conn: ClientConnection, session_id: str, capabilities: HostCapabilities) -> None:
        self._conn = conn
        self._session_id = session_id
        self._capabilities = capabilities
        # Set per turn by the agent: sends the updates queued so far (see request_permission).
        self.before_asking: Callable[[], Awaitable[None]] | None = None

    @property
    def capabilities(self) -> HostCapabilities:
        return self._capabilities

    async def read_text_file(self, path: Path, line: int | None = None, limit: int | None = None) -> str:
        if not self._capabilities.read_text_file:
            raise RuntimeError("the client did not advertise fs/read_text_file")
        resp = await self._conn.read_text_file(session_id=self._session_id, path=str(path), line=line, limit=limit)
        return resp.content

    async def write_text_file(self, path: Path, content: str) -> None:
        if not self._capabilities.write_text_file:
            raise RuntimeError("the client did not advertise fs/write_text_file")
        await self._conn.write_text_file(session_id=self._session_id, path=str(path), content=content)

    async def request_permission(self, request: PermissionRequest) -> PermissionOutcome:
        if self.before_asking is not None:
            # Updates go out through a queue, requests directly: the editor must have seen the tool
            # call (and what it showed so far) before it is asked about it.
            await self.before_asking()
        tool_call = schema.ToolCallUpdate(
            tool_call_id=request.call_id,
            title=request.title,
            kind=request.kind,
            status="pending",
            raw_input=request.raw_input,
            content=[wire_content(c) for c in request.content] or None,
        )
        resp = await self._conn.request_permission(
            session_id=self._session_id, tool_call=tool_call, options=PERMISSION_OPTIONS
        )
        outcome = resp.outcome
        if isinstance(outcome, schema.DeniedOutcome):
            return "cancelled"
        # An option we did not offer is never taken as approval.
        return _OUTCOMES.get(outcome.option_id, "reject_once")

    async def create_terminal(self, spec: TerminalSpec) -> Terminal:
        if not self._capabilities.terminal:
            raise RuntimeError("the client did not advertise terminal support")
        resp = await self._conn.create_terminal(
            session_id=self._session_id,
            command=spec.command,
            args=list(spec.args),
            env=[schema.EnvVariable(name=k, value=v) for k, v in spec.env.items()],
            cwd=str(spec.cwd) if spec.cwd else None,
            output_byte_limit=spec.output_byte_limit,
        )
        return AcpTerminal(self._conn, self._session_id, resp.terminal_id)
