"""A recording ACP client that offers terminals and really runs them (see `terminals.LocalTerminals`)."""

from __future__ import annotations

from typing import Any

import acp
from acp import schema

from tests.support.acp_client import RecordingClient
from tests.support.terminals import LocalTerminals


class TerminalClient(RecordingClient):
    def __init__(self, permission: str = "allow_once") -> None:
        super().__init__(permission)
        self.terminals = LocalTerminals()
        self.create_requests: list[dict[str, Any]] = []

    def capabilities(self) -> schema.ClientCapabilities:
        caps = super().capabilities()
        return caps.model_copy(update={"terminal": True})

    def _known(self, terminal_id: str) -> None:
        if terminal_id not in self.terminals.terminals or self.terminals.terminals[terminal_id].released:
            raise acp.RequestError.invalid_params({"terminalId": terminal_id, "reason": "unknown or released"})

    async def create_terminal(
        self,
        session_id: str,
        command: str,
        args: list[str] | None = None,
        env: list[schema.EnvVariable] | None = None,
        cwd: str | None = None,
        output_byte_limit: int | None = None,
        **kwargs: Any,
    ) -> schema.CreateTerminalResponse:
        self.create_requests.append(
            {"command": command, "args": args, "env": env, "cwd": cwd, "output_byte_limit": output_byte_limit}
        )
        variables = {v.name: v.value for v in env or []}
        terminal_id = await self.terminals.create(command, list(args or []), cwd, variables, output_byte_limit)
        return schema.CreateTerminalResponse(terminal_id=terminal_id)

    async def terminal_output(self, session_id: str, terminal_id: str, **kwargs: Any) -> schema.TerminalOutputResponse:
        self._known(terminal_id)
        out = await self.terminals.output(terminal_id)
        status = schema.TerminalExitStatus(exit_code=out.exit.exit_code, signal=out.exit.signal) if out.exit else None
        return schema.TerminalOutputResponse(output=out.output, truncated=out.truncated, exit_status=status)

    async def wait_for_terminal_exit(
        self, session_id: str, terminal_id: str, **kwargs: Any
    ) -> schema.WaitForTerminalExitResponse:
        self._known(terminal_id)
        exit_ = await self.terminals.wait_for_exit(terminal_id)
        return schema.WaitForTerminalExitResponse(exit_code=exit_.exit_code, signal=exit_.signal)

    async def kill_terminal(self, session_id: str, terminal_id: str, **kwargs: Any) -> schema.KillTerminalResponse:
        self._known(terminal_id)
        await self.terminals.kill(terminal_id)
        return schema.KillTerminalResponse()

    async def release_terminal(
        self, session_id: str, terminal_id: str, **kwargs: Any
    ) -> schema.ReleaseTerminalResponse:
        self._known(terminal_id)
        await self.terminals.release(terminal_id)
        return schema.ReleaseTerminalResponse()
