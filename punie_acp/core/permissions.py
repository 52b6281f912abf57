"""The permission gate every edit and command goes through, with one rule per answer.

- allowed (by the mode, a remembered "always", or the user): the call goes on, and the gate
  reports it started (`in_progress`) — only now, never before the grant;
- refused (by the mode, a remembered "reject always", or the user): `ActionDenied`, a
  `ToolFailed`, so the tool call fails with a message the model reads and the turn goes on;
- prompt cancelled: `PermissionCancelled`, which no tool catches: the turn ends as cancelled,
  whatever the tool (the turn runner finishes the call and stops).

The toolset gives each tool call its own view of the session's gate (`for_call`): the
request carries that call's id and title (the editor shows the prompt on the card it already
has), and the grant is what marks the call started.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace

from pydantic_ai.exceptions import ToolFailed

from punie_acp.core.host import EditorHost, PermissionRequest
from punie_acp.core.modes import ActionCategory, Mode

OnGrant = Callable[[], Awaitable[None]]


class ActionDenied(ToolFailed):
    """The user (or the mode) refused: a failed tool call telling the model not to retry blindly."""


class PermissionCancelled(Exception):
    """The user cancelled the permission prompt: the turn ends as cancelled, for every tool."""

    def __init__(self, call_id: str, message: str) -> None:
        super().__init__(message)
        self.call_id = call_id


class UndeclaredPermission(RuntimeError):
    """A tool asked permission although its kind says it never does (a bug in the tool)."""


@dataclass
class _Tally:
    refused: int = 0


@dataclass(frozen=True)
class _Call:
    call_id: str
    title: str
    on_grant: OnGrant | None  # None: the call was reported started already, so it may not ask


class PermissionGate:
    """Asks the editor per the session's mode, and remembers allow/reject-always per category."""

    def __init__(self, host: EditorHost, mode: Callable[[], Mode]) -> None:
        self._host = host
        self._mode = mode
        self._always: dict[ActionCategory, bool] = {}
        self._call: _Call | None = None
        self._tally = _Tally()

    @property
    def refusals(self) -> int:
        """Actions refused in this session so far: by the mode, a remembered "reject always", or the user."""
        return self._tally.refused

    def forget(self) -> None:
        self._always.clear()

    def for_call(self, call_id: str, title: str, on_grant: OnGrant | None) -> PermissionGate:
        """This gate as one tool call sees it (same mode and memory; the call's id and title)."""
        view = PermissionGate(self._host, self._mode)
        view._always = self._always  # shared: "always" answers hold for the whole session
        view._tally = self._tally
        view._call = _Call(call_id, title, on_grant)
        return view

    async def require(self, category: ActionCategory, request: PermissionRequest) -> None:
        """Return when allowed; raise `ActionDenied` when refused, `PermissionCancelled` when cancelled."""
        call = self._call
        if call is not None:
            if call.on_grant is None:
                raise UndeclaredPermission(f"{call.title}: this tool asked permission but its kind says it never does")
            request = replace(request, call_id=call.call_id, title=call.title)
        try:
            await self._decide(category, request)
        except ActionDenied:
            self._tally.refused += 1
            raise
        if call is not None and call.on_grant is not None:
            await call.on_grant()

    async def _decide(self, category: ActionCategory, request: PermissionRequest) -> None:
        mode = self._mode()
        policy = mode.policy(category)
        if policy == "deny":
            raise ActionDenied(
                f"{request.title}: not allowed in {mode.name} mode, so it was not done. Do not retry; tell the user."
            )
        if policy == "allow":
            return
        remembered = self._always.get(category)
        if remembered is True:
            return
        if remembered is False:
            raise ActionDenied(f"{request.title}: the user rejected this kind of action for the session; not done.")
        outcome = await self._host.request_permission(request)
        if outcome == "allow_always":
            self._always[category] = True
        elif outcome == "reject_always":
            self._always[category] = False
        if outcome in ("allow_once", "allow_always"):
            return
        if outcome == "cancelled":
            raise PermissionCancelled(request.call_id, f"{request.title}: the permission prompt was cancelled.")
        raise ActionDenied(
            f"{request.title}: the user rejected this, so it was not done. Do not retry it; ask what to do instead."
        )
