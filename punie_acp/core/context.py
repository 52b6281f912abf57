"""What every tool receives as PydanticAI `deps`: the session's workspace, editor and voice."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from punie_acp.config import Settings
from punie_acp.core.events import Event, Location, ToolContent, ToolProgress
from punie_acp.core.host import EditorHost
from punie_acp.workspace.root import Workspace

if TYPE_CHECKING:  # imported with PydanticAI, after sessions open (core/preload.py)
    from punie_acp.core.permissions import PermissionGate

Emit = Callable[[Event], Awaitable[None]]


@dataclass
class ToolContext:
    session_id: str
    workspace: Workspace
    host: EditorHost
    permissions: PermissionGate
    settings: Settings
    emit: Emit

    async def report(
        self,
        call_id: str,
        *,
        content: tuple[ToolContent, ...] = (),
        locations: tuple[Location, ...] = (),
        title: str | None = None,
        block: str | None = None,
    ) -> None:
        """Show progress of a running tool call in the editor (`block`: replace a live block, see ToolProgress)."""
        await self.emit(ToolProgress(call_id=call_id, content=content, locations=locations, title=title, block=block))
