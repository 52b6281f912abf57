"""The agent-panel parts of the ACP face: config options, slash commands, usage, MCP servers.

Core values (editor-neutral) to SDK schema objects and back; `agent.py` calls these.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from acp import schema

from punie_acp.core.commands import COMMANDS
from punie_acp.core.config_options import ConfigOption

if TYPE_CHECKING:  # core/mcp.py imports PydanticAI; it is loaded only when an editor passes servers
    from punie_acp.core.mcp import McpServerSpec

log = logging.getLogger(__name__)

WireOption = schema.SessionConfigOptionSelect | schema.SessionConfigOptionBoolean


def wire_options(options: Sequence[ConfigOption]) -> list[WireOption]:
    return [
        schema.SessionConfigOptionSelect(
            type="select",
            id=option.id,
            name=option.name,
            description=option.description,
            category=option.category,
            current_value=option.current,
            options=[
                schema.SessionConfigSelectOption(value=c.value, name=c.name, description=c.description)
                for c in option.choices
            ],
        )
        for option in options
    ]


def config_update(options: Sequence[ConfigOption]) -> schema.ConfigOptionUpdate:
    return schema.ConfigOptionUpdate(session_update="config_option_update", config_options=wire_options(options))


def commands_update() -> schema.AvailableCommandsUpdate:
    return schema.AvailableCommandsUpdate(
        session_update="available_commands_update",
        available_commands=[
            schema.AvailableCommand(
                name=c.name,
                description=c.description,
                input=schema.AvailableCommandInput(root=schema.UnstructuredCommandInput(hint=c.input_hint))
                if c.input_hint
                else None,
            )
            for c in COMMANDS.values()
        ],
    )


def usage_update(used: int, size: int) -> schema.UsageUpdate:
    return schema.UsageUpdate(session_update="usage_update", used=max(0, used), size=max(0, size))


def mcp_specs(servers: Sequence[Any] | None, session_id: str) -> list[McpServerSpec]:
    """The stdio servers the editor passed; others (HTTP, SSE) are not advertised, so are logged and left."""
    if not servers:
        return []
    from punie_acp.core.mcp import McpServerSpec

    specs: list[McpServerSpec] = []
    for server in servers or ():
        if isinstance(server, schema.McpServerStdio):
            specs.append(
                McpServerSpec(
                    name=server.name,
                    command=server.command,
                    args=tuple(server.args),
                    env={v.name: v.value for v in server.env},
                )
            )
        else:
            kind = getattr(server, "type", type(server).__name__)
            log.info("session %s: MCP server of type %s ignored (punie runs stdio servers)", session_id, kind)
    return specs
