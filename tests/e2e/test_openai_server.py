"""`--model http://…/v1/NAME` through the real `punie` command, against the fake OpenAI server.

A tool call the server leaves in `content` is recovered and run by `punie serve`; a server that
answers 404, 500 or something that is not a chat completion is one line naming the URL, both in
`punie ask` and as the ACP prompt's error, and `punie serve` serves on.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import acp
import pytest

from tests.support.acp_client import PUNIE, RecordingClient, punie_server, server_env, start_session, text_prompt
from tests.support.fake_openai import Reply, fake_openai_server, sse_reply, status_reply

BROKEN = {
    "404": (status_reply(404, b'{"error": {"message": "no such model"}}'), "has no model 'fake-qwen3' (HTTP 404)"),
    "500": (status_reply(500, b"Internal Server Error", "text/plain"), "HTTP 500"),
    "not JSON": (Reply(b"<html>It works!</html>", content_type="text/html"), "sent no chat completion"),
    "dropped": (Reply(sse_reply("A long answer. " * 40).body, drop_after=400), "closed the connection in the middle"),
}


@pytest.mark.parametrize("case", list(BROKEN))
def test_ask_against_a_broken_server_is_one_line_naming_the_url(case: str, tmp_path: Path, project: Path) -> None:
    reply, says = BROKEN[case]
    with fake_openai_server() as server:
        server.fallback = reply
        result = subprocess.run(
            [*PUNIE, "ask", "--model", server.url, "--cwd", str(project), "hi"],
            env=server_env(tmp_path),
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    assert lines[0].startswith("punie: ") and server.base_url in lines[0] and says in lines[0]
    assert result.returncode == 2
    if case != "dropped":  # a reply that broke off shows what had arrived, then the error
        assert result.stdout == ""


@pytest.mark.anyio
@pytest.mark.parametrize("case", list(BROKEN))
async def test_serve_answers_the_prompt_with_the_reason_and_serves_on(case: str, tmp_path: Path, project: Path) -> None:
    reply, says = BROKEN[case]
    client = RecordingClient()
    with fake_openai_server() as server:
        server.fallback = reply
        async with punie_server(client, server.url, tmp_path) as (conn, proc):
            sid = await start_session(conn, client, project)
            with pytest.raises(acp.RequestError) as info:
                await conn.prompt(session_id=sid, prompt=text_prompt("hi"))
            server.fallback = sse_reply("Back again.")
            resp = await conn.prompt(session_id=sid, prompt=text_prompt("again"))
            assert proc.returncode is None
    message = str(info.value)
    assert server.base_url in message and says in message and "\n" not in message.strip()
    assert resp.stop_reason == "end_turn" and client.message_text(sid).endswith("Back again.")


@pytest.mark.anyio
async def test_a_tool_call_left_in_content_is_run(tmp_path: Path, project: Path) -> None:
    client = RecordingClient()
    call = 'I will open it.\n<tool_call>\n{"name": "read_file", "arguments": {"path": "hello.py"}}\n</tool_call>'
    with fake_openai_server() as server:
        server.script(sse_reply(call, reasoning="Need the file.", step=3), sse_reply("It sets answer = 42.", step=2))
        async with punie_server(client, server.url, tmp_path) as (conn, _):
            sid = await start_session(conn, client, project)
            resp = await conn.prompt(session_id=sid, prompt=text_prompt("What does hello.py do?"))
        second = server.requests[1]
    assert resp.stop_reason == "end_turn"
    assert client.thought_text(sid) == "Need the file."
    events = client.tool_events(sid)
    assert events[0].session_update == "tool_call" and events[0].raw_input == {"path": "hello.py"}
    assert [e.status for e in events[1:] if e.status][-1] == "completed"
    assert client.message_text(sid) == "I will open it.It sets answer = 42."
    # The server is told the real result, tied to the call's id.
    [result] = [m for m in second["messages"] if m["role"] == "tool"]
    [assistant] = [m for m in second["messages"] if m["role"] == "assistant"]
    assert "answer = 42" in result["content"]
    assert result["tool_call_id"] == assistant["tool_calls"][0]["id"]
    assert second["stop"][:2] == ["<|im_end|>", "<|endoftext|>"]
