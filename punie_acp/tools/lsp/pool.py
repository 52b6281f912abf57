"""The running language servers: one per project root and server, shared by that root's sessions.

A server starts on first use; it stops (`shutdown`, `exit`, then the supervisor) when the last
session of its root closes, and all of them stop when punie shuts down. While a root has
servers, its watcher's batches (the same watcher the file index uses) are forwarded to them.
"""

from __future__ import annotations

import asyncio
import logging
import os
from pathlib import Path

import anyio
from watchfiles import Change

from punie_acp.core import lifecycle
from punie_acp.tools.lsp.server import LanguageServer
from punie_acp.tools.lsp.servers import ServerSpec
from punie_acp.workspace import watch
from punie_acp.workspace.index import _Interesting

log = logging.getLogger(__name__)

_servers: dict[tuple[Path, str], LanguageServer] = {}
_sessions: dict[Path, set[str]] = {}
_unsubscribe: dict[Path, object] = {}
_closing: set[asyncio.Task[None]] = set()
_FILE_CHANGE = {Change.added: 1, Change.modified: 2, Change.deleted: 3}


def server_for(root: Path, spec: ServerSpec, session_id: str) -> LanguageServer:
    _forget_orphans()
    _sessions.setdefault(root, set()).add(session_id)
    server = _servers.get((root, spec.key))
    if server is None:
        server = _servers[(root, spec.key)] = LanguageServer(spec, root)
        _follow(root)
    server.start_soon()
    return server


def _forget_orphans() -> None:
    """Servers started on an event loop that has ended (one `asyncio.run` after another: tests, `punie ask`).

    Nothing can talk to them any more: their supervisors are told to stop them, synchronously.
    """
    for key, server in list(_servers.items()):
        if server.orphaned():
            del _servers[key]
            server.kill()
    for root in [r for r in _unsubscribe if not any(k[0] == r for k in _servers)]:
        stop = _unsubscribe.pop(root)
        if callable(stop):
            stop()
        _sessions.pop(root, None)


def running(root: Path) -> list[LanguageServer]:
    return [server for (r, _), server in _servers.items() if r == root]


def _follow(root: Path) -> None:
    if root in _unsubscribe:
        return

    def deliver(message: watch.Message) -> None:
        kind, payload = message
        if kind != "changes" or not isinstance(payload, set):
            return
        changes = [(Path(p), _FILE_CHANGE.get(c, 2)) for c, p in payload if isinstance(p, str)][:1000]
        leaving = _link_leaving(root, [path for path, kind in changes if kind != 3])
        for server in running(root):
            if leaving is not None and server.spec.is_ty:
                server.refuse(
                    f"ty server stopped: {leaving} is a link leading outside the project root, which ty would"
                    " follow; remove the link (grep still works)"
                )
            server.files_changed(changes)

    try:
        stop = watch.subscribe(root, deliver, debounce_ms=400, step_ms=50, keep=_Interesting(root))
    except Exception:
        log.info("cannot watch %s for the language servers", root, exc_info=True)
        stop = None
    _unsubscribe[root] = stop


def _link_leaving(root: Path, paths: list[Path]) -> str | None:
    """The first new link among `paths` that leads outside `root` (ty would follow it), as shown to people."""
    for path in paths:
        if os.path.islink(path):
            real = Path(os.path.realpath(path))
            if real != root and root not in real.parents:
                return str(path.relative_to(root)) if root in path.parents else str(path)
    return None


def _session_closed(session_id: str, root: Path) -> None:
    ids = _sessions.get(root)
    if ids is None:
        return
    ids.discard(session_id)
    if ids:
        return
    del _sessions[root]
    stop = _unsubscribe.pop(root, None)
    if callable(stop):
        stop()
    for key in [k for k in _servers if k[0] == root]:
        server = _servers.pop(key)
        task = asyncio.get_running_loop().create_task(server.aclose())
        _closing.add(task)
        task.add_done_callback(_closing.discard)


async def shutdown_all() -> None:
    """Every server stopped, politely first; run at punie's shutdown (shielded: it may be cancelling)."""
    with anyio.CancelScope(shield=True):
        servers = list(_servers.values())
        _servers.clear()
        _sessions.clear()
        for stop in _unsubscribe.values():
            if callable(stop):
                stop()
        _unsubscribe.clear()
        async with anyio.create_task_group() as tg:
            for server in servers:
                tg.start_soon(server.aclose)
        if _closing:
            await asyncio.gather(*list(_closing), return_exceptions=True)


lifecycle.on_session_closed(_session_closed)
lifecycle.on_shutdown(shutdown_all)
