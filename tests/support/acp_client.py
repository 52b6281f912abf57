"""A recording ACP client and helpers to run `punie serve` as a real subprocess.

`RecordingClient` is the test double for an editor: it records every `session/update`,
answers permission prompts with a chosen option, and offers no fs/terminal capabilities
(subclasses add them).
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections import defaultdict
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import acp
from acp import schema
from acp.core import ClientSideConnection

PUNIE = (sys.executable, "-m", "punie_acp")


class RecordingClient:
    def __init__(self, permission: str = "allow_once") -> None:
        # "allow_once" | "allow_always" | "reject_once" | "reject_always" | "cancelled"
        self.permission = permission
        self.updates: dict[str, list[Any]] = defaultdict(list)
        self.permission_requests: list[schema.ToolCallUpdate] = []
        self.update_event = asyncio.Event()
        self.conn: Any = None

    def on_connect(self, conn: Any) -> None:
        self.conn = conn

    def capabilities(self) -> schema.ClientCapabilities:
        return schema.ClientCapabilities()

    async def session_update(self, session_id: str, update: Any, **kwargs: Any) -> None:
        self.updates[session_id].append(update)
        self.update_event.set()

    async def request_permission(
        self, session_id: str, tool_call: schema.ToolCallUpdate, options: list[schema.PermissionOption], **kwargs: Any
    ) -> schema.RequestPermissionResponse:
        self.permission_requests.append(tool_call)
        if self.permission == "cancelled":
            return schema.RequestPermissionResponse(outcome=schema.DeniedOutcome(outcome="cancelled"))
        assert self.permission in {o.option_id for o in options}, options
        return schema.RequestPermissionResponse(
            outcome=schema.AllowedOutcome(outcome="selected", option_id=self.permission)
        )

    # The editor's optional methods: this client offers none of them (subclasses do).

    async def read_text_file(
        self, session_id: str, path: str, line: int | None = None, limit: int | None = None, **kwargs: Any
    ) -> schema.ReadTextFileResponse:
        raise acp.RequestError.method_not_found("fs/read_text_file")

    async def write_text_file(
        self, session_id: str, path: str, content: str, **kwargs: Any
    ) -> schema.WriteTextFileResponse:
        raise acp.RequestError.method_not_found("fs/write_text_file")

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
        raise acp.RequestError.method_not_found("terminal/create")

    async def terminal_output(self, session_id: str, terminal_id: str, **kwargs: Any) -> schema.TerminalOutputResponse:
        raise acp.RequestError.method_not_found("terminal/output")

    async def release_terminal(
        self, session_id: str, terminal_id: str, **kwargs: Any
    ) -> schema.ReleaseTerminalResponse:
        raise acp.RequestError.method_not_found("terminal/release")

    async def wait_for_terminal_exit(
        self, session_id: str, terminal_id: str, **kwargs: Any
    ) -> schema.WaitForTerminalExitResponse:
        raise acp.RequestError.method_not_found("terminal/wait_for_exit")

    async def kill_terminal(self, session_id: str, terminal_id: str, **kwargs: Any) -> schema.KillTerminalResponse:
        raise acp.RequestError.method_not_found("terminal/kill")

    async def create_elicitation(
        self, message: str, mode: schema.ElicitationMode, **kwargs: Any
    ) -> schema.CreateElicitationResponse:
        raise acp.RequestError.method_not_found("elicitation/create")

    async def complete_elicitation(self, elicitation_id: str, **kwargs: Any) -> None:
        raise acp.RequestError.method_not_found("elicitation/complete")

    async def ext_method(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        raise acp.RequestError.method_not_found(method)

    async def ext_notification(self, method: str, params: dict[str, Any]) -> None:
        return None

    # Reading what was recorded ------------------------------------------------

    def kinds(self, session_id: str) -> list[str]:
        return [u.session_update for u in self.updates[session_id]]

    def message_text(self, session_id: str) -> str:
        return "".join(u.content.text for u in self.updates[session_id] if u.session_update == "agent_message_chunk")

    def thought_text(self, session_id: str) -> str:
        return "".join(u.content.text for u in self.updates[session_id] if u.session_update == "agent_thought_chunk")

    def tool_events(self, session_id: str) -> list[Any]:
        return [u for u in self.updates[session_id] if u.session_update in ("tool_call", "tool_call_update")]

    async def wait_for(self, session_id: str, predicate: Any, timeout: float = 30.0) -> None:
        """Wait until `predicate(updates)` holds (a failure guard, not a timing assertion)."""

        async def loop() -> None:
            while not predicate(self.updates[session_id]):
                self.update_event.clear()
                await self.update_event.wait()

        await asyncio.wait_for(loop(), timeout)


def server_env(log_dir: Path, extra: dict[str, str] | None = None) -> dict[str, str]:
    env = dict(os.environ)
    env["PUNIE_LOG_FILE"] = str(log_dir / "punie.log")
    env["XDG_CONFIG_HOME"] = str(log_dir / "config")  # no user config leaks into tests
    env["XDG_STATE_HOME"] = str(log_dir / "state")  # nor are saved sessions shared with the user's
    env.update(extra or {})
    return env


@asynccontextmanager
async def punie_server(
    client: RecordingClient, model: str, log_dir: Path, *args: str, env: dict[str, str] | None = None
) -> AsyncIterator[tuple[ClientSideConnection, asyncio.subprocess.Process]]:
    async with acp.spawn_agent_process(
        client, PUNIE[0], *PUNIE[1:], "serve", "--model", model, *args, env=server_env(log_dir, env)
    ) as (conn, proc):
        yield conn, proc


async def start_session(conn: ClientSideConnection, client: RecordingClient, cwd: Path, **kwargs: Any) -> str:
    await conn.initialize(protocol_version=1, client_capabilities=client.capabilities())
    resp = await conn.new_session(cwd=str(cwd), mcp_servers=[], **kwargs)
    return str(resp.session_id)


def text_prompt(text: str) -> list[Any]:
    return [acp.text_block(text)]
