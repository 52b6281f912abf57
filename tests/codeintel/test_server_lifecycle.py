"""The language-server engine directly: cancel sends `$/cancelRequest`, closing a root's last session stops it."""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import time
from pathlib import Path

import anyio
import pytest

from punie_acp.core import lifecycle
from punie_acp.tools.lsp import pool
from punie_acp.tools.lsp.server import LanguageServer
from punie_acp.tools.lsp.servers import ServerSpec, spec_for

pytestmark = pytest.mark.anyio
FAKE = Path(__file__).with_name("fake_server.py")


def _silent_spec(tmp_path: Path) -> tuple[ServerSpec, Path, Path]:
    """A server that never answers: its spec, a root, and where it logs what it received."""
    root = (tmp_path / "root").resolve()
    root.mkdir()
    state = tmp_path / "state"
    state.mkdir()
    spec = spec_for(root / "a.py", f".py={sys.executable} {FAKE} silent {state}")
    assert spec is not None
    return spec, root, state


def _silent(tmp_path: Path) -> tuple[LanguageServer, Path, Path]:
    spec, root, state = _silent_spec(tmp_path)
    return LanguageServer(spec, root), root, state


async def _wait_for(path: Path, text: str) -> None:
    with anyio.fail_after(30):  # a failure guard, not a timing assertion
        while not (path.exists() and text in path.read_text()):
            await anyio.sleep(0.05)


async def test_a_cancelled_call_sends_cancel_request(tmp_path: Path) -> None:
    server, root, state = _silent(tmp_path)
    await server.connection()
    params = {"textDocument": {"uri": (root / "a.py").as_uri()}, "position": {"line": 0, "character": 0}}
    with anyio.CancelScope() as scope:
        async with anyio.create_task_group() as tg:
            tg.start_soon(server.request, "textDocument/definition", params)
            await _wait_for(state / "methods", "textDocument/definition")
            scope.cancel()  # what an ACP session/cancel does to the running tool call
    await _wait_for(state / "methods", "$/cancelRequest")
    await server.aclose()


async def test_closing_the_last_session_of_a_root_shuts_its_server_down(tmp_path: Path) -> None:
    server, root, state = _silent(tmp_path)
    shared = pool.server_for(root, server.spec, "session-1")
    assert pool.server_for(root, server.spec, "session-2") is shared
    conn = await shared.connection()
    lifecycle.session_closed("session-1", root)
    assert conn.alive  # another session still uses the root
    lifecycle.session_closed("session-2", root)
    with anyio.fail_after(30):
        await conn.closed.wait()
    await _wait_for(state / "methods", "shutdown")
    assert pool.running(root) == []
    await pool.shutdown_all()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie (exited, not yet reaped) counts as gone.
    with contextlib.suppress(OSError):
        return "zombie" not in Path(f"/proc/{pid}/status").read_text().lower()
    return True


def test_a_server_stops_when_its_event_loop_ends_and_is_forgotten_at_the_next_use(tmp_path: Path) -> None:
    spec, root, _state = _silent_spec(tmp_path)

    async def first() -> int:
        conn = await pool.server_for(root, spec, "s1").connection()
        assert conn._supervised is not None
        return conn._supervised.command_pid

    async def second() -> None:
        other = (tmp_path / "other").resolve()
        other.mkdir()
        pool.server_for(other, spec, "s2")  # any use sweeps what ended loops left behind
        assert pool.running(root) == []
        await pool.shutdown_all()

    pid = asyncio.run(first())  # asyncio.run cancels what is left: the reader stops the server
    deadline = time.monotonic() + 30  # a failure guard, not a timing assertion
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(pid)
    asyncio.run(second())
