"""How a tool presents itself to the editor: its kind, a title and the locations it touches."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from punie_acp.core.events import Location, ToolKind
from punie_acp.workspace.root import PathRefused, Workspace


def _no_locations(args: Mapping[str, Any], workspace: Workspace) -> tuple[Location, ...]:
    return ()


def path_location(
    key: str = "path", line_key: str | None = None
) -> Callable[[Mapping[str, Any], Workspace], tuple[Location, ...]]:
    """Locations from a path argument, only when it resolves inside the workspace."""

    def locate(args: Mapping[str, Any], workspace: Workspace) -> tuple[Location, ...]:
        raw = args.get(key)
        if raw is not None and not isinstance(raw, str):
            return ()
        try:
            path = workspace.resolve(raw)
        except PathRefused:
            return ()
        line = args.get(line_key) if line_key else None
        return (Location(path, int(line) if isinstance(line, int) and line > 0 else None),)

    return locate


@dataclass(frozen=True)
class AgentTool:
    """A PydanticAI tool function (first parameter `RunContext[ToolContext]`) plus its editor face."""

    function: Callable[..., Awaitable[Any]]
    kind: ToolKind
    title: Callable[[Mapping[str, Any]], str]
    locate: Callable[[Mapping[str, Any], Workspace], tuple[Location, ...]] = _no_locations

    @property
    def name(self) -> str:
        return self.function.__name__
