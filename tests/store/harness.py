"""The real agent and core with a given session store, over the in-process ACP loopback; and how to
compare what an editor was shown live with what `session/load` replays."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any, cast

import acp
from acp.core import AgentSideConnection, ClientSideConnection
from pydantic_ai.messages import ModelMessage
from pydantic_ai.models import ModelRequestParameters

from punie_acp.acp.agent import PunieAgent
from punie_acp.config import Settings
from punie_acp.core.service import CoreService
from punie_acp.models.base import ModelBackend
from punie_acp.models.demo import DemoModel
from punie_acp.models.replay import Plan
from punie_acp.store import SessionStore
from punie_acp.tools.registry import default_tools
from tests.acp.loopback import Loopback, transport_pair
from tests.support.acp_client import RecordingClient


class HistoryRecordingModel(DemoModel):
    """The test model, remembering the messages each request was given (what the model 'saw')."""

    def __init__(self) -> None:
        super().__init__(chunk_delay=0.0)
        self.seen: list[list[ModelMessage]] = []

    def plan(self, messages: Sequence[ModelMessage], params: ModelRequestParameters) -> Plan:
        self.seen.append(list(messages))
        return super().plan(messages, params)


@asynccontextmanager
async def served(
    store: SessionStore,
    backend: ModelBackend,
    client: RecordingClient | None = None,
    settings: Settings | None = None,
) -> AsyncIterator[Loopback]:
    """One 'server run': the store is closed when it ends, as `punie serve` closes it."""
    client = client or RecordingClient()
    core = CoreService(backend, settings or Settings(log_file=""), default_tools(), store=store)
    agent = PunieAgent(core)
    agent_end, client_end = transport_pair()
    agent_conn = AgentSideConnection(cast(acp.Agent, agent), agent_end, use_unstable_protocol=True)
    conn = ClientSideConnection(cast(acp.Client, client), client_end, use_unstable_protocol=True)
    try:
        await conn.initialize(protocol_version=1, client_capabilities=client.capabilities())
        yield Loopback(conn, client, core, agent_end)
    finally:
        await conn.close()
        await agent_conn.close()
        await core.aclose()


_CHUNKS = ("agent_message_chunk", "agent_thought_chunk")


# Announcements of the session's state, not part of its conversation: sent again on load, never replayed.
ANNOUNCEMENTS = ("available_commands_update", "usage_update", "config_option_update")


def as_shown(
    updates: Sequence[Any], *, skip: Sequence[str] = ("user_message_chunk", *ANNOUNCEMENTS)
) -> list[dict[str, Any]]:
    """Updates as an editor renders them: adjacent text chunks of one kind joined (how they were cut
    into messages is pacing, not content); the user's own prompts (which live turns do not echo) and
    the session's state announcements left out."""
    shown: list[dict[str, Any]] = []
    for update in updates:
        data: dict[str, Any] = update.model_dump(mode="json", by_alias=True, exclude_none=True)
        kind = data["sessionUpdate"]
        if kind in skip:
            continue
        last = shown[-1] if shown else None
        if kind in _CHUNKS and last is not None and last["sessionUpdate"] == kind:
            last["content"]["text"] += data["content"]["text"]
            continue
        shown.append(data)
    return shown
