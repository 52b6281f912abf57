"""Hooks for state kept outside the core per project (language servers): told when sessions close and at shutdown.

The core does not import the tools; a tool that keeps something running registers here.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from pathlib import Path

log = logging.getLogger(__name__)

SessionClosed = Callable[[str, Path], None]
Shutdown = Callable[[], Awaitable[None]]

_session_closed: list[SessionClosed] = []
_shutdown: list[Shutdown] = []


def on_session_closed(hook: SessionClosed) -> None:
    if hook not in _session_closed:
        _session_closed.append(hook)


def on_shutdown(hook: Shutdown) -> None:
    if hook not in _shutdown:
        _shutdown.append(hook)


def session_closed(session_id: str, root: Path) -> None:
    for hook in _session_closed:
        try:
            hook(session_id, root)
        except Exception:
            log.exception("a session-closed hook failed")


async def shutdown() -> None:
    for hook in _shutdown:
        try:
            await hook()
        except Exception:
            log.exception("a shutdown hook failed")
