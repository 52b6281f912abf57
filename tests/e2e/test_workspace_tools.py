"""Workspace tools through the real `punie serve`: fs/* via the editor or local disk, permissions, modes.

The scripted model (`--model script:FILE`) makes the calls; each session replays the script
from its start, so one server serves several sessions with different answers.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.e2e.scripts import write_script
from tests.support.acp_client import RecordingClient, punie_server, start_session, text_prompt
from tests.support.fs_client import FsClient

pytestmark = pytest.mark.anyio

APP = "def main():\n    return 1\n"
UNSAVED = APP + "# unsaved edit in the editor\n"

TOOLS_SCRIPT: list[list[dict[str, Any]]] = [
    [{"call": "update_plan", "args": {"entries": [{"content": "Look around", "status": "in_progress"}]}}],
    [{"call": "read_file", "args": {"path": "app.py"}}],
    [{"call": "grep", "args": {"pattern": "return"}}],
    [{"call": "edit_file", "args": {"path": "app.py", "old_text": "return 1", "new_text": "return 2"}}],
    [{"call": "write_file", "args": {"path": "pkg/new.py", "content": "NEW = True\n"}}],
    [{"say": "all done"}],
]


def project(base: Path, name: str) -> Path:
    root = base / name
    root.mkdir()
    (root / "app.py").write_text(APP)
    return root.resolve()


def finals(client: RecordingClient, sid: str) -> dict[str, Any]:
    """The final update of each tool call, keyed by the title its start announced."""
    titles: dict[str, str] = {}
    out: dict[str, Any] = {}
    for event in client.tool_events(sid):
        if event.session_update == "tool_call":
            titles[event.tool_call_id] = event.title
        elif event.status in ("completed", "failed"):
            out[titles[event.tool_call_id]] = event
    return out


def updates_for(client: RecordingClient, sid: str, call_title: str) -> list[Any]:
    ids = {e.tool_call_id for e in client.tool_events(sid) if e.session_update == "tool_call" and e.title == call_title}
    return [e for e in client.tool_events(sid) if e.tool_call_id in ids]


async def test_an_editor_with_fs_gets_the_reads_and_writes(tmp_path: Path) -> None:
    root = project(tmp_path, "proj")
    client = FsClient(permission="allow_once")
    client.open_buffer(root / "app.py", UNSAVED)
    async with punie_server(client, write_script(tmp_path, TOOLS_SCRIPT), tmp_path) as (conn, _):
        sid = await start_session(conn, client, root)
        resp = await conn.prompt(session_id=sid, prompt=text_prompt("go"))
    assert resp.stop_reason == "end_turn"
    done = finals(client, sid)
    assert all(e.status == "completed" for e in done.values()), done
    # read_file returned the editor's unsaved buffer.
    assert "# unsaved edit in the editor" in done["Read app.py"].raw_output["output"]
    assert all(Path(path).is_absolute() for path, _, _ in client.reads)
    # Writes went through the editor; the disk is untouched.
    assert client.writes == [
        (str(root / "app.py"), UNSAVED.replace("return 1", "return 2")),
        (str(root / "pkg" / "new.py"), "NEW = True\n"),
    ]
    assert (root / "app.py").read_text() == APP and not (root / "pkg" / "new.py").exists()
    # Each edit asked first, with the diff (absolute path; oldText null for a new file).
    edit_request, write_request = client.permission_requests
    [diff] = edit_request.content or []
    assert diff.type == "diff" and diff.path == str(root / "app.py")
    assert diff.old_text == UNSAVED and diff.new_text == UNSAVED.replace("return 1", "return 2")
    [new_diff] = write_request.content or []
    assert new_diff.path == str(root / "pkg" / "new.py") and new_diff.old_text is None
    # The tool call itself shows the diff and where it is, for the editor to follow.
    edit_final = done["Edit app.py"]
    assert [c.type for c in edit_final.content] == ["diff", "content"]
    edit_locations = [loc for u in updates_for(client, sid, "Edit app.py") if u.locations for loc in u.locations]
    assert [(loc.path, loc.line) for loc in edit_locations][-1] == (str(root / "app.py"), 2)
    # grep: file:line text, and locations to follow.
    grep_final = done["Search 'return' in ."]
    assert grep_final.raw_output["output"] == "app.py:2:     return 1"
    grep_updates = updates_for(client, sid, "Search 'return' in .")
    grep_locations = [loc for u in grep_updates if u.locations for loc in u.locations]
    assert [(loc.path, loc.line) for loc in grep_locations] == [(str(root / "app.py"), 2)]
    # The plan reached the editor as a `plan` update.
    [plan] = [u for u in client.updates[sid] if u.session_update == "plan"]
    assert [(e.content, e.status) for e in plan.entries] == [("Look around", "in_progress")]


async def test_without_fs_the_tools_use_the_local_disk(tmp_path: Path) -> None:
    root = project(tmp_path, "proj")
    client = RecordingClient(permission="allow_once")
    async with punie_server(client, write_script(tmp_path, TOOLS_SCRIPT), tmp_path) as (conn, _):
        sid = await start_session(conn, client, root)
        resp = await conn.prompt(session_id=sid, prompt=text_prompt("go"))
    assert resp.stop_reason == "end_turn"
    done = finals(client, sid)
    assert all(e.status == "completed" for e in done.values()), done
    assert done["Read app.py"].raw_output["output"] == APP
    assert (root / "app.py").read_text() == APP.replace("return 1", "return 2")
    assert (root / "pkg" / "new.py").read_text() == "NEW = True\n"
    assert len(client.permission_requests) == 2


EDITS: list[list[dict[str, Any]]] = [
    [{"call": "edit_file", "args": {"path": "app.py", "old_text": "return 1", "new_text": "return 2"}}],
    [{"call": "write_file", "args": {"path": "b.txt", "content": "b\n"}}],
    [{"say": "finished"}],
]


@pytest.mark.parametrize(
    ("answer", "prompts", "applied", "stop"),
    [
        ("allow_once", 2, True, "end_turn"),
        ("allow_always", 1, True, "end_turn"),
        ("reject_once", 2, False, "end_turn"),
        ("reject_always", 1, False, "end_turn"),
        ("cancelled", 1, False, "cancelled"),
    ],
)
async def test_permission_answers_are_honoured_exactly(
    tmp_path: Path, answer: str, prompts: int, applied: bool, stop: str
) -> None:
    root = project(tmp_path, "proj")
    client = RecordingClient(permission=answer)
    async with punie_server(client, write_script(tmp_path, EDITS), tmp_path) as (conn, _):
        sid = await start_session(conn, client, root)
        resp = await conn.prompt(session_id=sid, prompt=text_prompt("edit"))
    assert resp.stop_reason == stop
    assert len(client.permission_requests) == prompts
    assert all(r.kind == "edit" and r.content and r.content[0].type == "diff" for r in client.permission_requests)
    if applied:
        assert (root / "app.py").read_text() == APP.replace("return 1", "return 2")
        assert (root / "b.txt").read_text() == "b\n"
    else:
        assert (root / "app.py").read_text() == APP  # a reject is never executed
        assert not (root / "b.txt").exists()
        statuses = [e.status for e in finals(client, sid).values()]
        assert statuses and set(statuses) == {"failed"}


@pytest.mark.parametrize(("mode", "applied"), [("read-only", False), ("auto-edit", True)])
async def test_modes_decide_without_asking(tmp_path: Path, mode: str, applied: bool) -> None:
    root = project(tmp_path, "proj")
    client = RecordingClient(permission="allow_once")
    async with punie_server(client, write_script(tmp_path, EDITS), tmp_path) as (conn, _):
        sid = await start_session(conn, client, root)
        await conn.set_session_mode(session_id=sid, mode_id=mode)
        resp = await conn.prompt(session_id=sid, prompt=text_prompt("edit"))
    assert resp.stop_reason == "end_turn"
    assert client.permission_requests == []
    assert ((root / "app.py").read_text() != APP) is applied
    assert (root / "b.txt").exists() is applied
    if not applied:
        outputs = [e.raw_output["output"] for e in finals(client, sid).values()]
        assert len(outputs) == 2 and all("not allowed in Read-only mode" in o for o in outputs)
