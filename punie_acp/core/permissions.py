"""The permission gate every edit and command goes through."""

from __future__ import annotations

from collections.abc import Callable

from punie_acp.core.host import EditorHost, PermissionRequest
from punie_acp.core.modes import ActionCategory, Mode


class ActionDenied(Exception):
    """The user (or the mode) refused; the message tells the model not to retry blindly."""

    def __init__(self, message: str, *, cancelled: bool = False) -> None:
        super().__init__(message)
        self.cancelled = cancelled


class PermissionGate:
    """Asks the editor per the session's mode, and remembers allow/reject-always per category."""

    def __init__(self, host: EditorHost, mode: Callable[[], Mode]) -> None:
        self._host = host
        self._mode = mode
        self._always: dict[ActionCategory, bool] = {}

    def forget(self) -> None:
        self._always.clear()

    async def require(self, category: ActionCategory, request: PermissionRequest) -> None:
        mode = self._mode()
        policy = mode.policy(category)
        if policy == "deny":
            raise ActionDenied(f"{request.title}: not allowed in {mode.name} mode. Do not retry; tell the user.")
        if policy == "allow":
            return
        remembered = self._always.get(category)
        if remembered is True:
            return
        if remembered is False:
            raise ActionDenied(f"{request.title}: the user rejected this kind of action for the session.")
        outcome = await self._host.request_permission(request)
        if outcome == "allow_always":
            self._always[category] = True
        elif outcome == "reject_always":
            self._always[category] = False
        if outcome in ("allow_once", "allow_always"):
            return
        if outcome == "cancelled":
            raise ActionDenied(f"{request.title}: the permission prompt was cancelled.", cancelled=True)
        raise ActionDenied(f"{request.title}: the user rejected this. Do not retry it; ask what to do instead.")
