"""`punie serve --model <fabricated mlx dir>` as a subprocess, driven by the official ACP client."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from tests.mlx.conftest import ACP_ANSWER
from tests.support.acp_client import RecordingClient, punie_server, start_session, text_prompt

pytestmark = pytest.mark.anyio


async def test_streamed_reasoning_tool_call_and_answer(
    model_dirs: dict[str, Path], tmp_path: Path, project: Path
) -> None:
    client = RecordingClient()
    async with punie_server(client, str(model_dirs["acp"]), tmp_path) as (conn, _):
        sid = await start_session(conn, client, project)
        resp = await conn.prompt(session_id=sid, prompt=list(text_prompt("What does hello.py do?")))

    assert resp.stop_reason == "end_turn"
    # The model was still loading when the prompt came: progress first, then the model's reasoning.
    assert client.thought_text(sid).startswith("Loading acp: ")
    assert client.thought_text(sid).endswith("Let me open hello.py.")
    assert client.message_text(sid) == ACP_ANSWER.text
    kinds = client.kinds(sid)
    # Streamed as generated, not one blob at the end: the first token alone, the rest a few at a time.
    assert kinds.count("agent_message_chunk") >= 2
    assert kinds.index("agent_thought_chunk") < kinds.index("tool_call") < kinds.index("agent_message_chunk")
    events = client.tool_events(sid)
    assert events[0].session_update == "tool_call" and events[0].raw_input == {"path": "hello.py"}
    assert [e.status for e in events[1:] if e.status] == ["in_progress", "completed"]
    assert "answer = 42" in events[-1].raw_output["output"]  # an object, as strict clients need


async def test_cancel_stops_the_generation(model_dirs: dict[str, Path], tmp_path: Path, project: Path) -> None:
    client = RecordingClient()
    async with punie_server(client, str(model_dirs["endless"]), tmp_path) as (conn, _):
        sid = await start_session(conn, client, project)
        turn = asyncio.create_task(conn.prompt(session_id=sid, prompt=list(text_prompt("count"))))
        await client.wait_for(sid, lambda updates: any(u.session_update == "agent_message_chunk" for u in updates))
        await conn.cancel(session_id=sid)
        assert (await turn).stop_reason == "cancelled"
        assert client.message_text(sid).count(" w") < 4096  # far short of max_tokens


async def test_max_tokens_stop_reason(model_dirs: dict[str, Path], tmp_path: Path, project: Path) -> None:
    client = RecordingClient()
    async with punie_server(client, str(model_dirs["endless"]), tmp_path, "--max-tokens", "60") as (conn, _):
        sid = await start_session(conn, client, project)
        resp = await conn.prompt(session_id=sid, prompt=list(text_prompt("count")))
    assert resp.stop_reason == "max_tokens"
    assert client.message_text(sid) == "".join(f" w{i}" for i in range(60)).strip()
