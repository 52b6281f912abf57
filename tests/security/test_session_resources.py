"""Many open sessions on one `punie serve`: watchers must not starve the server or its limits.

Before: every session's file index ran its own `awatch`, which parks a worker of anyio's
default thread pool (40 threads, shared with reads, grep, writes) in 5-second calls and holds
an inotify instance (often 128 per user). At 40 sessions other turns queued for seconds and
inotify instances grew with sessions. Now a root has one watcher, on its own thread, and at
most `MAX_WATCHED_ROOTS` roots are watched: threads and inotify instances stay bounded.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import anyio
import pytest

from punie_acp.workspace.watch import MAX_WATCHED_ROOTS
from tests.e2e.scripts import write_script
from tests.security.hostile import calls, output_of
from tests.support.acp_client import RecordingClient, punie_server, start_session, text_prompt

pytestmark = pytest.mark.anyio

DISTINCT_ROOTS = 40
SHARED_ROOT_SESSIONS = 20
GUARD = 300  # seconds: a failure guard, never a timing assertion


def threads_of(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("Threads:"):
            return int(line.split()[1])
    raise AssertionError("no thread count in /proc status")


def inotify_instances(pid: int) -> int:
    count = 0
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            count += os.readlink(f"/proc/{pid}/fd/{fd}") == "anon_inode:inotify"
        except OSError:
            continue
    return count


def finished(updates: list[Any]) -> list[Any]:
    return [u for u in updates if u.session_update == "tool_call_update" and u.status in ("completed", "failed")]


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="needs /proc to count threads and inotify instances")
async def test_sixty_open_sessions_keep_threads_and_inotify_bounded_and_turns_running(tmp_path: Path) -> None:
    roots = []
    for n in range(DISTINCT_ROOTS + 1):
        root = tmp_path / f"root{n}"
        root.mkdir()
        (root / "app.py").write_text(f"APP = {n}\n")
        roots.append(root.resolve())
    shared = roots[-1]
    log_dir = tmp_path / "log"
    log_dir.mkdir()
    model = write_script(log_dir, calls(("list_files", {})))
    client = RecordingClient("reject_once")
    async with punie_server(client, model, log_dir) as (conn, proc):
        with anyio.fail_after(GUARD):
            # Each session lists its files: its index (and, before, its own watcher) starts.
            for root in roots[:DISTINCT_ROOTS] + [shared] * SHARED_ROOT_SESSIONS:
                sid = await start_session(conn, client, root)
                await conn.prompt(session_id=sid, prompt=text_prompt("list"))
                assert output_of(finished(client.updates[sid])[0]) == "app.py"
            # A turn in yet another session still runs, and sees what was created meanwhile.
            (shared / "new.py").write_text("NEW = 1\n")
            last = await start_session(conn, client, shared)
            response = await conn.prompt(session_id=last, prompt=text_prompt("list"))
        assert response.stop_reason == "end_turn"
        assert output_of(finished(client.updates[last])[0]) == "app.py\nnew.py"
        inotify = inotify_instances(proc.pid)
        threads = threads_of(proc.pid)
    assert inotify <= MAX_WATCHED_ROOTS, f"{inotify} inotify instances for {DISTINCT_ROOTS + 1} roots"
    # One Python and one Rust thread per watched root, plus the server's own (bounded, not per session).
    assert threads <= 2 * MAX_WATCHED_ROOTS + 40, f"{threads} threads"
