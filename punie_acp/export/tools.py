"""The tool schemas that go with each example: what the chat template lists for the model.

Punie's own tools (the direct set, plus `run_code` when the session used code mode) with their
descriptions and JSON schemas as PydanticAI builds them for a request; a tool the history calls
that punie does not define (an MCP server's) gets a schema that accepts its arguments.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from typing import Any

Schema = dict[str, Any]


@functools.cache
def _punie_schemas() -> dict[str, Schema]:
    from pydantic_ai import Tool

    from punie_acp.tools.registry import default_tools

    schemas: dict[str, Schema] = {}
    for tool in default_tools("both"):
        definition = Tool(tool.function, takes_ctx=True, name=tool.name).tool_def
        function: Schema = {"name": definition.name, "parameters": definition.parameters_json_schema}
        if definition.description:
            function["description"] = definition.description
        schemas[tool.name] = {"type": "function", "function": function}
    return schemas


@functools.cache
def _direct_names() -> tuple[str, ...]:
    from punie_acp.tools.registry import default_tools

    return tuple(tool.name for tool in default_tools("direct"))


def tool_schemas(called: Iterable[str]) -> list[Schema]:
    """The direct tools, then any other tool the session called, each once."""
    known = _punie_schemas()
    names = list(dict.fromkeys([*_direct_names(), *called]))
    return [known.get(name) or _open_schema(name) for name in names]


def _open_schema(name: str) -> Schema:
    return {"type": "function", "function": {"name": name, "parameters": {"type": "object"}}}
