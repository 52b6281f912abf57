"""The in-process ACP tier: punie's real `PunieAgent` and the SDK's client connection, joined by
memory transports instead of a subprocess's pipes (like the ACP SDK's own loopback tests).

Every message is serialized to JSON text and parsed back on the way, as on the wire, so what
cannot cross a real pipe cannot cross this one either. Protocol behaviour is tested here;
`tests/e2e` keeps what needs the real process (stdio, early `initialize`, the command line).
"""

from __future__ import annotations

import json
import math
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import acp
import anyio
from acp.core import AgentSideConnection, ClientSideConnection
from anyio.abc import ObjectReceiveStream, ObjectSendStream

from punie_acp.acp.agent import PunieAgent
from punie_acp.config import Settings
from punie_acp.core.service import CoreService
from punie_acp.models.base import ModelBackend, StatelessBackend
from punie_acp.models.demo import DemoModel
from punie_acp.models.scripted import ScriptedModel, parse_script
from punie_acp.tools.registry import default_tools
from tests.support.acp_client import RecordingClient


class MemoryTransport:
    """One end of an in-memory JSON-RPC channel (the SDK's message-level `Transport`)."""

    def __init__(self, send: ObjectSendStream[str], receive: ObjectReceiveStream[str]) -> None:
        self._send = send
        self._receive = receive

    async def send(self, message: dict[str, Any]) -> None:
        try:
            await self._send.send(json.dumps(message, separators=(",", ":")))
        except (anyio.ClosedResourceError, anyio.BrokenResourceError) as exc:
            raise ConnectionError("the other end is gone") from exc

    async def receive(self) -> dict[str, Any] | None:
        try:
            line = await self._receive.receive()
        except (anyio.EndOfStream, anyio.ClosedResourceError):
            return None
        message: dict[str, Any] = json.loads(line)
        return message

    async def close(self) -> None:
        await self._send.aclose()
        await self._receive.aclose()


def transport_pair() -> tuple[MemoryTransport, MemoryTransport]:
    to_agent_send, to_agent_receive = anyio.create_memory_object_stream[str](math.inf)
    to_client_send, to_client_receive = anyio.create_memory_object_stream[str](math.inf)
    return MemoryTransport(to_client_send, to_agent_receive), MemoryTransport(to_agent_send, to_client_receive)


@dataclass
class Loopback:
    conn: ClientSideConnection
    client: RecordingClient
    core: CoreService
    agent_transport: MemoryTransport

    async def start_session(self, cwd: Path) -> str:
        await self.conn.initialize(protocol_version=1, client_capabilities=self.client.capabilities())
        response = await self.conn.new_session(cwd=str(cwd), mcp_servers=[])
        return str(response.session_id)


def scripted(responses: Sequence[Sequence[dict[str, Any]]], chunk_delay: float = 0.0) -> ModelBackend:
    """A backend replaying `responses` (the `--model script:` format); every session shares the cursor."""
    plans, _ = parse_script({"responses": [list(r) for r in responses], "chunk_delay": chunk_delay})
    return StatelessBackend(ScriptedModel(plans), "script")


def demo() -> ModelBackend:
    return StatelessBackend(DemoModel(), "punie-test")


@asynccontextmanager
async def loopback(
    backend: ModelBackend | None = None,
    settings: Settings | None = None,
    client: RecordingClient | None = None,
) -> AsyncIterator[Loopback]:
    """`punie serve`'s agent and core in this process, with an SDK client connected to it."""
    settings = settings or Settings(log_file="")
    client = client or RecordingClient()
    core = CoreService(backend or demo(), settings, default_tools())
    agent = PunieAgent(core)
    agent_end, client_end = transport_pair()
    # Both are partial implementations of the SDK's protocols (the router answers
    # method-not-found for the rest), as in `acp/server.py`.
    agent_conn = AgentSideConnection(cast(acp.Agent, agent), agent_end, use_unstable_protocol=True)
    conn = ClientSideConnection(cast(acp.Client, client), client_end, use_unstable_protocol=True)
    try:
        yield Loopback(conn, client, core, agent_end)
    finally:
        await conn.close()
        await agent_conn.close()
        await core.aclose()
