"""Saved sessions through the real agent and core (in-process ACP): load replays what was shown and the
model continues with its history; list, resume, close, delete; what a client may send that is not ours."""

from __future__ import annotations

from pathlib import Path

import acp
import pytest
from pydantic_ai.messages import ModelRequest, ModelResponse, ToolCallPart, ToolReturnPart, UserPromptPart

from punie_acp.acp.agent import DELETE_EXTENSION
from punie_acp.models.base import StatelessBackend
from punie_acp.store.sqlite import SqliteStore
from tests.store.harness import ANNOUNCEMENTS, HistoryRecordingModel, as_shown, served
from tests.support.acp_client import RecordingClient, text_prompt

pytestmark = pytest.mark.anyio


def user_prompts(messages: list[object]) -> list[str]:
    return [
        str(p.content)
        for m in messages
        if isinstance(m, ModelRequest)
        for p in m.parts
        if isinstance(p, UserPromptPart)
    ]


async def test_load_after_a_restart_replays_what_was_shown_and_the_model_keeps_its_history(
    tmp_path: Path, project: Path
) -> None:
    db = tmp_path / "sessions.db"
    first_model = HistoryRecordingModel()
    live = RecordingClient()
    async with served(SqliteStore(db), StatelessBackend(first_model, "test"), live) as lb:
        sid = (await lb.conn.new_session(cwd=str(project), mcp_servers=[])).session_id
        await lb.conn.set_session_mode(session_id=sid, mode_id="auto-edit")
        for prompt in ("What is in hello.py?", "And then?"):
            assert (await lb.conn.prompt(session_id=sid, prompt=text_prompt(prompt))).stop_reason == "end_turn"
    shown_live = as_shown(live.updates[sid])
    assert [u["sessionUpdate"] for u in shown_live][:2] == ["current_mode_update", "session_info_update"]
    assert "tool_call" in [u["sessionUpdate"] for u in shown_live]

    model = HistoryRecordingModel()
    again = RecordingClient()
    async with served(SqliteStore(db), StatelessBackend(model, "test"), again) as lb:
        listed = (await lb.conn.list_sessions(cwd=str(project))).sessions
        assert [(s.session_id, s.title) for s in listed] == [(sid, "What is in hello.py?")]
        loaded = await lb.conn.load_session(cwd=str(project), session_id=sid, mcp_servers=[])
        assert loaded is not None and loaded.modes is not None and loaded.modes.current_mode_id == "auto-edit"
        # All of it arrived before the answer (the commands are announced after it).
        replayed = [u for u in again.updates[sid] if u.session_update not in ANNOUNCEMENTS]
        assert as_shown(replayed) == shown_live
        assert [u.content.text for u in replayed if u.session_update == "user_message_chunk"] == [
            "What is in hello.py?",
            "And then?",
        ]
        assert (await lb.conn.prompt(session_id=sid, prompt=text_prompt("Third"))).stop_reason == "end_turn"
        # No second title: the session already has one.
        assert [u.session_update for u in again.updates[sid][len(replayed) :]].count("session_info_update") == 0
    seen = model.seen[0]
    assert user_prompts(list(seen)) == ["What is in hello.py?", "And then?", "Third"]
    calls = [p for m in seen if isinstance(m, ModelResponse) for p in m.parts if isinstance(p, ToolCallPart)]
    results = [p for m in seen if isinstance(m, ModelRequest) for p in m.parts if isinstance(p, ToolReturnPart)]
    assert [c.tool_name for c in calls] == ["read_file"] and "answer = 42" in str(results[0].content)


async def test_resume_does_not_replay_and_continues(tmp_path: Path, project: Path) -> None:
    db = tmp_path / "sessions.db"
    async with served(SqliteStore(db), StatelessBackend(HistoryRecordingModel(), "test")) as lb:
        sid = (await lb.conn.new_session(cwd=str(project), mcp_servers=[])).session_id
        await lb.conn.prompt(session_id=sid, prompt=text_prompt("hello there"))
    model = HistoryRecordingModel()
    client = RecordingClient()
    async with served(SqliteStore(db), StatelessBackend(model, "test"), client) as lb:
        await lb.conn.resume_session(cwd=str(project), session_id=sid, mcp_servers=[])
        assert client.updates[sid] == []
        await lb.conn.prompt(session_id=sid, prompt=text_prompt("again"))
    assert user_prompts(list(model.seen[0])) == ["hello there", "again"]


async def test_close_keeps_the_session_and_delete_removes_it(tmp_path: Path, project: Path) -> None:
    db = tmp_path / "sessions.db"
    async with served(SqliteStore(db), StatelessBackend(HistoryRecordingModel(), "test")) as lb:
        sid = (await lb.conn.new_session(cwd=str(project), mcp_servers=[])).session_id
        await lb.conn.prompt(session_id=sid, prompt=text_prompt("hi"))
        await lb.conn.close_session(session_id=sid)
        assert [s.session_id for s in (await lb.conn.list_sessions()).sessions] == [sid]
        await lb.conn.load_session(cwd=str(project), session_id=sid, mcp_servers=[])  # closed: loadable again
        assert await lb.conn.ext_method(DELETE_EXTENSION, {"sessionId": sid}) == {}
        assert (await lb.conn.list_sessions()).sessions == []
        for call in (
            lb.conn.load_session(cwd=str(project), session_id=sid, mcp_servers=[]),
            lb.conn.prompt(session_id=sid, prompt=text_prompt("still there?")),  # delete closed it too
            lb.conn.ext_method(DELETE_EXTENSION, {"sessionId": sid}),
        ):
            with pytest.raises(acp.RequestError) as info:
                await call
            assert info.value.code == -32002
    async with served(SqliteStore(db), StatelessBackend(HistoryRecordingModel(), "test")) as lb:
        assert (await lb.conn.list_sessions()).sessions == []  # gone after a restart too


async def test_list_pages_by_cursor(tmp_path: Path, project: Path) -> None:
    async with served(SqliteStore(tmp_path / "s.db"), StatelessBackend(HistoryRecordingModel(), "test")) as lb:
        made = [(await lb.conn.new_session(cwd=str(project), mcp_servers=[])).session_id for _ in range(5)]
        page = await lb.core.list_sessions(None, None, limit=2)
        seen = [r.id for r in page.sessions]
        while page.next_cursor is not None:
            # The wire form of the cursor works for the next page.
            wire = await lb.conn.list_sessions(cursor=page.next_cursor)
            page = await lb.core.list_sessions(None, page.next_cursor, limit=2)
            assert [s.session_id for s in wire.sessions][: len(page.sessions)] == [r.id for r in page.sessions]
            seen += [r.id for r in page.sessions]
        assert sorted(seen) == sorted(made) and len(seen) == len(set(seen))


@pytest.mark.parametrize(
    "session_id",
    ["0" * 32, "../../etc/passwd", "x" * 100_000, "'; DROP TABLE sessions; --", "\u202e\x00nul", ""],
)
async def test_session_ids_that_are_not_ours_are_not_found(tmp_path: Path, project: Path, session_id: str) -> None:
    async with served(SqliteStore(tmp_path / "s.db"), StatelessBackend(HistoryRecordingModel(), "test")) as lb:
        kept = (await lb.conn.new_session(cwd=str(project), mcp_servers=[])).session_id
        for call in (
            lb.conn.load_session(cwd=str(project), session_id=session_id, mcp_servers=[]),
            lb.conn.resume_session(cwd=str(project), session_id=session_id, mcp_servers=[]),
            lb.conn.ext_method(DELETE_EXTENSION, {"sessionId": session_id}),
        ):
            with pytest.raises(acp.RequestError) as info:
                await call
            assert info.value.code == -32002 and len(str(info.value)) < 400
        assert [s.session_id for s in (await lb.conn.list_sessions()).sessions] == [kept]


async def test_a_session_loads_only_into_its_own_directory(tmp_path: Path, project: Path) -> None:
    other = tmp_path / "other"
    other.mkdir()
    link = tmp_path / "link-to-project"
    link.symlink_to(project)
    async with served(SqliteStore(tmp_path / "s.db"), StatelessBackend(HistoryRecordingModel(), "test")) as lb:
        sid = (await lb.conn.new_session(cwd=str(project), mcp_servers=[])).session_id
        await lb.conn.close_session(session_id=sid)
        for cwd in (str(other), "relative/path", str(project) + "\x00", "/", str(tmp_path / "missing")):
            with pytest.raises(acp.RequestError) as info:
                await lb.conn.load_session(cwd=cwd, session_id=sid, mcp_servers=[])
            assert info.value.code == -32602
        assert lb.core.sessions() == []
        # The same directory by another name is the same project.
        await lb.conn.load_session(cwd=str(link), session_id=sid, mcp_servers=[])


@pytest.mark.parametrize("cursor", ["garbage", "eyJ4IjoxfQ", "\x00" * 10, "a" * 70_000])
async def test_a_cursor_that_is_not_ours_is_invalid_params(tmp_path: Path, project: Path, cursor: str) -> None:
    async with served(SqliteStore(tmp_path / "s.db"), StatelessBackend(HistoryRecordingModel(), "test")) as lb:
        await lb.conn.new_session(cwd=str(project), mcp_servers=[])
        with pytest.raises(acp.RequestError) as info:
            await lb.conn.list_sessions(cursor=cursor)
        assert info.value.code == -32602 and "cursor" in str(info.value)


async def test_an_unusable_store_is_one_clear_error_on_session_new_and_list(tmp_path: Path, project: Path) -> None:
    db = tmp_path / "sessions.db"
    db.write_bytes(b"garbage" * 100)
    async with served(SqliteStore(db), StatelessBackend(HistoryRecordingModel(), "test")) as lb:
        for call in (lb.conn.new_session(cwd=str(project), mcp_servers=[]), lb.conn.list_sessions()):
            with pytest.raises(acp.RequestError) as info:
                await call
            assert "damaged" in str(info.value) and str(db) in str(info.value)
    assert db.read_bytes() == b"garbage" * 100


async def test_a_huge_history_loads_and_replays(tmp_path: Path, project: Path) -> None:
    db = tmp_path / "sessions.db"
    store = SqliteStore(db)
    async with served(store, StatelessBackend(HistoryRecordingModel(), "test")) as lb:
        sid = (await lb.conn.new_session(cwd=str(project), mcp_servers=[])).session_id
        from punie_acp.core.events import TextDelta
        from punie_acp.store import UserPrompt

        for i in range(3000):  # far more than any editor session: a replay must still go through
            store.append(sid, UserPrompt(f"prompt {i}"))
            store.append(sid, TextDelta("x" * 2000))
        await store.check()
    client = RecordingClient()
    async with served(SqliteStore(db), StatelessBackend(HistoryRecordingModel(), "test"), client) as lb:
        await lb.conn.load_session(cwd=str(project), session_id=sid, mcp_servers=[])
        kinds = [u.session_update for u in client.updates[sid]]
        assert kinds.count("user_message_chunk") == 3000 and kinds.count("agent_message_chunk") == 3000


async def test_text_sqlite_cannot_take_is_kept_or_refused_but_never_breaks_the_store(
    tmp_path: Path, project: Path
) -> None:
    """Lone surrogates are valid in a client's JSON and invalid in UTF-8 (what SQLite stores)."""
    db = tmp_path / "s.db"
    prompt = "\u202eevil title\ud800 and more"
    async with served(SqliteStore(db), StatelessBackend(HistoryRecordingModel(), "test")) as lb:
        sid = (await lb.conn.new_session(cwd=str(project), mcp_servers=[])).session_id
        await lb.conn.prompt(session_id=sid, prompt=text_prompt(prompt))
        for call in (
            lb.conn.load_session(cwd=str(project), session_id="\udc80" * 3, mcp_servers=[]),
            lb.conn.ext_method(DELETE_EXTENSION, {"sessionId": "a\ud800"}),
        ):
            with pytest.raises(acp.RequestError) as info:
                await call
            assert info.value.code == -32002
        assert (await lb.conn.list_sessions(cwd="/tmp/\udcff")).sessions == []
    client = RecordingClient()
    async with served(SqliteStore(db), StatelessBackend(HistoryRecordingModel(), "test"), client) as lb:
        [listed] = (await lb.conn.list_sessions()).sessions
        assert listed.title is not None and "\u202e" not in listed.title and listed.title.startswith("\\u202eevil")
        await lb.conn.load_session(cwd=str(project), session_id=sid, mcp_servers=[])
        [user] = [u for u in client.updates[sid] if u.session_update == "user_message_chunk"]
        assert user.content.text.startswith("\u202eevil title")  # the prompt itself is kept as it was sent


async def test_two_loads_of_one_session_at_once_open_it_once(tmp_path: Path, project: Path) -> None:
    import asyncio

    db = tmp_path / "s.db"
    async with served(SqliteStore(db), StatelessBackend(HistoryRecordingModel(), "test")) as lb:
        sid = (await lb.conn.new_session(cwd=str(project), mcp_servers=[])).session_id
        await lb.conn.prompt(session_id=sid, prompt=text_prompt("hi"))
    client = RecordingClient()
    async with served(SqliteStore(db), StatelessBackend(HistoryRecordingModel(), "test"), client) as lb:
        await asyncio.gather(
            *(lb.conn.load_session(cwd=str(project), session_id=sid, mcp_servers=[]) for _ in range(5))
        )
        assert [s.id for s in lb.core.sessions()] == [sid]
        assert (await lb.conn.prompt(session_id=sid, prompt=text_prompt("again"))).stop_reason == "end_turn"
