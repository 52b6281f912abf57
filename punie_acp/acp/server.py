"""`punie serve`: the ACP agent on stdin/stdout."""

from __future__ import annotations

import logging
from typing import cast

import acp

from punie_acp.acp.agent import PunieAgent
from punie_acp.acp.early import EarlyStart
from punie_acp.acp.transport import open_stdio
from punie_acp.config import Settings
from punie_acp.core.service import CoreService
from punie_acp.core.tooling import AgentTool
from punie_acp.models.base import ModelBackend
from punie_acp.store import open_store

log = logging.getLogger(__name__)


async def serve_stdio(settings: Settings, backend: ModelBackend, protocol_fd: int, early: EarlyStart) -> None:
    transport = await open_stdio(protocol_fd, settings.max_message_bytes, early.leftover)

    def tools() -> list[AgentTool]:
        from punie_acp.tools.registry import default_tools  # with PydanticAI, after session/new

        return default_tools(settings.tool_style)

    core = CoreService(backend, settings, tools, store=open_store(settings.session_store))
    agent = PunieAgent(core)
    if early.initialize_params is not None:
        agent.adopt_initialize(early.initialize_params)
    core.start()
    log.info("serving ACP on stdio with model %s", core.model_name)
    try:
        # PunieAgent implements the methods it advertises; the SDK's router answers
        # method-not-found for the rest (load, fork, resume), so it is a partial `acp.Agent`.
        await acp.run_agent(cast(acp.Agent, agent), transport, use_unstable_protocol=True)
    finally:
        await core.aclose()
        log.info("client closed the connection; exiting")
