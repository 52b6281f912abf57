"""`punie serve` as a subprocess, driven by the official ACP Python client.

What needs the real process lives here (stdio, the early `initialize`, a real cancel); protocol
behaviour is tested in process, in `tests/acp`.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from tests.e2e.scripts import write_script
from tests.support.acp_client import RecordingClient, punie_server, start_session, text_prompt

pytestmark = pytest.mark.anyio


async def test_handshake_advertises_only_what_works(tmp_path: Path) -> None:
    client = RecordingClient()
    async with punie_server(client, "test", tmp_path) as (conn, _):
        resp = await conn.initialize(protocol_version=1)
    assert resp.protocol_version == 1
    assert resp.agent_info is not None and resp.agent_info.name == "punie"
    caps = resp.agent_capabilities
    assert caps is not None
    assert caps.load_session is True  # saved sessions: load, list, resume, close (not delete: SDK 0.12.1)
    sessions = caps.session_capabilities
    assert sessions is not None and sessions.list is not None and sessions.resume is not None
    assert sessions.close is not None and sessions.delete is None and sessions.fork is None
    assert caps.prompt_capabilities is not None and caps.prompt_capabilities.image is False


async def test_prompt_streams_thought_and_message_chunks(tmp_path: Path, project: Path) -> None:
    client = RecordingClient()
    async with punie_server(client, "test", tmp_path) as (conn, _):
        sid = await start_session(conn, client, project)
        resp = await conn.prompt(session_id=sid, prompt=text_prompt("say something nice"))
    assert resp.stop_reason == "end_turn"
    kinds = client.kinds(sid)
    assert kinds.count("agent_message_chunk") > 3, kinds  # streamed, not one blob
    assert "agent_thought_chunk" in kinds
    assert kinds.index("agent_thought_chunk") < kinds.index("agent_message_chunk")
    assert client.message_text(sid) == "This is punie's test model. You said: say something nice"


async def test_cancel_stops_a_streaming_reply(tmp_path: Path, project: Path) -> None:
    long_reply = " ".join(f"word{i}" for i in range(2000))
    model = write_script(tmp_path, [[{"say": long_reply}], [{"say": "second turn"}]], chunk_delay=0.005)
    client = RecordingClient()
    async with punie_server(client, model, tmp_path) as (conn, _):
        sid = await start_session(conn, client, project)
        turn = asyncio.create_task(conn.prompt(session_id=sid, prompt=text_prompt("talk")))
        await client.wait_for(sid, lambda ups: len(ups) >= 5)
        await conn.cancel(session_id=sid)
        resp = await asyncio.wait_for(turn, 30)
        assert resp.stop_reason == "cancelled"
        received = client.message_text(sid)
        assert 0 < len(received) < len(long_reply)
        # The session is not wedged: the next prompt runs.
        client.updates[sid].clear()
        again = await conn.prompt(session_id=sid, prompt=text_prompt("again"))
        assert again.stop_reason == "end_turn"
        assert client.message_text(sid) == "second turn"
