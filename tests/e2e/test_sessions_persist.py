"""Saved sessions over real stdio with the official client: a SIGKILLed server's session is listed,
replayed exactly and continued by the next server; list paging, resume, close, delete; a damaged or
newer store is one clear error and is left untouched."""

from __future__ import annotations

import asyncio
import hashlib
import signal
import sqlite3
from pathlib import Path
from typing import Any

import acp
import pytest

from punie_acp.acp.agent import DELETE_EXTENSION
from punie_acp.store.formats import APPLICATION_ID, CURRENT
from tests.e2e.scripts import write_script
from tests.store.harness import as_shown
from tests.support.acp_client import RecordingClient, punie_server, start_session, text_prompt
from tests.support.fake_openai import recording_openai_server

pytestmark = pytest.mark.anyio

PLAN = {"entries": [{"content": "write new.txt", "status": "in_progress"}, {"content": "report"}]}
SCRIPT: list[list[dict[str, Any]]] = [
    [{"think": "The user wants a file."}, {"say": "Planning first."}, {"call": "update_plan", "args": PLAN}],
    [{"say": "Writing it."}, {"call": "write_file", "args": {"path": "new.txt", "content": "hello\n"}}],
    [{"say": "Done: new.txt holds a greeting."}],
]
PROMPT = "Please write new.txt\nwith a greeting"


def store_file(log_dir: Path) -> Path:
    return log_dir / "state" / "punie" / "sessions.db"  # server_env points XDG_STATE_HOME at log_dir/state


async def test_a_killed_servers_session_is_listed_replayed_exactly_and_continued(tmp_path: Path, project: Path) -> None:
    live = RecordingClient()
    async with punie_server(live, write_script(tmp_path, SCRIPT, chunk_delay=0.002), tmp_path) as (conn, proc):
        sid = await start_session(conn, live, project)
        assert (await conn.prompt(session_id=sid, prompt=text_prompt(PROMPT))).stop_reason == "end_turn"
        proc.send_signal(signal.SIGKILL)
        await asyncio.wait_for(proc.wait(), 60)
    assert proc.returncode == -signal.SIGKILL
    shown_live = as_shown(live.updates[sid])
    kinds = [u["sessionUpdate"] for u in shown_live]
    assert kinds[0] == "session_info_update" and {"plan", "tool_call", "agent_thought_chunk"} <= set(kinds)
    assert (project / "new.txt").read_text() == "hello\n"

    client = RecordingClient()
    with recording_openai_server() as double:
        async with punie_server(client, double.url, tmp_path) as (conn, _proc):
            await conn.initialize(protocol_version=1, client_capabilities=client.capabilities())
            listed = (await conn.list_sessions(cwd=str(project))).sessions
            assert [(s.session_id, s.title) for s in listed] == [(sid, "Please write new.txt")]
            await conn.load_session(cwd=str(project), session_id=sid, mcp_servers=[])
            replayed = list(client.updates[sid])
            assert as_shown(replayed) == shown_live
            assert replayed[1].session_update == "user_message_chunk" and replayed[1].content.text == PROMPT
            reply = await conn.prompt(session_id=sid, prompt=text_prompt("Thanks. What did you write?"))
            assert reply.stop_reason == "end_turn"
    sent = double.chat_requests()[-1]["messages"]
    said = [(m["role"], m.get("content")) for m in sent]
    assert ("user", PROMPT) in said and ("user", "Thanks. What did you write?") in said
    assert ("assistant", "Done: new.txt holds a greeting.") in said
    calls = [c["function"]["name"] for m in sent for c in m.get("tool_calls") or []]
    assert calls == ["update_plan", "write_file"]
    assert sum(m["role"] == "tool" for m in sent) == 2


async def test_list_pages_resume_close_and_delete_over_stdio(tmp_path: Path, project: Path) -> None:
    client = RecordingClient()
    async with punie_server(client, "test", tmp_path) as (conn, _proc):
        first = await start_session(conn, client, project)
        await conn.prompt(session_id=first, prompt=text_prompt("hello"))
        made = [first] + [(await conn.new_session(cwd=str(project), mcp_servers=[])).session_id for _ in range(54)]
    client = RecordingClient()
    async with punie_server(client, "test", tmp_path) as (conn, _proc):
        await conn.initialize(protocol_version=1, client_capabilities=client.capabilities())
        page = await conn.list_sessions()
        seen = [s.session_id for s in page.sessions]
        assert len(seen) == 50 and page.next_cursor is not None
        rest = await conn.list_sessions(cursor=page.next_cursor)
        seen += [s.session_id for s in rest.sessions]
        assert rest.next_cursor is None and sorted(seen) == sorted(made)
        await conn.resume_session(cwd=str(project), session_id=first, mcp_servers=[])
        assert client.updates[first] == []  # resume does not replay
        assert (await conn.prompt(session_id=first, prompt=text_prompt("again"))).stop_reason == "end_turn"
        await conn.close_session(session_id=first)
        assert await conn.ext_method(DELETE_EXTENSION, {"sessionId": first}) == {}
        with pytest.raises(acp.RequestError) as info:
            await conn.load_session(cwd=str(project), session_id=first, mcp_servers=[])
        assert info.value.code == -32002
        assert first not in {s.session_id for s in (await conn.list_sessions()).sessions}


def _damaged(path: Path) -> None:
    path.write_bytes(b"SQLite format 3\x00" + b"\x13" * 5000)


def _newer(path: Path) -> None:
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE sessions (id)")
    conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
    conn.execute(f"PRAGMA user_version = {CURRENT + 7}")
    conn.commit()
    conn.close()


@pytest.mark.parametrize(("make", "said"), [(_damaged, "is damaged"), (_newer, "written by a newer punie")])
async def test_an_unusable_store_is_one_clear_error_and_is_left_untouched(
    tmp_path: Path, project: Path, make: Any, said: str
) -> None:
    path = store_file(tmp_path)
    path.parent.mkdir(parents=True)
    make(path)
    before = hashlib.sha256(path.read_bytes()).hexdigest()
    client = RecordingClient()
    async with punie_server(client, "test", tmp_path) as (conn, proc):
        await conn.initialize(protocol_version=1, client_capabilities=client.capabilities())
        for call in (conn.new_session(cwd=str(project), mcp_servers=[]), conn.list_sessions()):
            with pytest.raises(acp.RequestError) as info:
                await call
            message = str(info.value)
            assert said in message and str(path) in message and "\n" not in message
        assert proc.returncode is None  # the server serves on
    assert hashlib.sha256(path.read_bytes()).hexdigest() == before
    assert sorted(p.name for p in path.parent.iterdir()) == ["sessions.db"]  # no -wal, no backup, no new file
