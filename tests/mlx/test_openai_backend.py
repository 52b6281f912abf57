"""`punie serve --model http://…/v1/NAME`: the same scripted Qwen3, served by `mlx_lm.server`.

The OpenAI-compatible path through the real ACP server, against a real OpenAI-compatible
server on loopback: once with a call `mlx_lm.server` recognises (structured `tool_calls`), once
with a call it hands back as plain `content` (a ```json fence), which punie must recover.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.mlx.conftest import ACP_ANSWER
from tests.support.acp_client import RecordingClient, punie_server, start_session, text_prompt
from tests.support.fabricate import write_scripted_model
from tests.support.fabricate.weights import Script

# A call in a JSON fence: mlx_lm.server does not parse it, so it arrives as text in `content`.
FENCED_FIRST = Script(
    (
        "Let me read it.",
        "\n```json\n",
        '{"name": "read_file", "arguments": {"path": "hello.py"}}',
        "\n```",
    )
)

pytestmark = pytest.mark.anyio


@pytest.fixture
def mlx_server_url(model_dirs: dict[str, Path]) -> Iterator[str]:
    with mlx_server(model_dirs["acp"]) as url:
        yield url


@contextmanager
def mlx_server(model: Path) -> Iterator[str]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    cmd = [sys.executable, "-m", "mlx_lm.server", "--model", str(model), "--port", str(port)]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + 120  # a failure guard, not a timing assertion
        while True:
            try:
                urllib.request.urlopen(url + "/models", timeout=1).read()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("mlx_lm.server did not start") from None
                time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        proc.wait(30)


async def test_tool_call_and_answer_through_an_openai_compatible_server(
    mlx_server_url: str, tmp_path: Path, project: Path
) -> None:
    client = RecordingClient()
    async with punie_server(client, f"{mlx_server_url}/default_model", tmp_path) as (conn, _):
        sid = await start_session(conn, client, project)
        resp = await conn.prompt(session_id=sid, prompt=text_prompt("What does hello.py do?"))
    assert resp.stop_reason == "end_turn"
    assert "Let me open hello.py." in client.thought_text(sid)  # the server's `reasoning` deltas
    events = client.tool_events(sid)
    assert events[0].session_update == "tool_call" and events[0].raw_input == {"path": "hello.py"}
    assert [e.status for e in events[1:] if e.status] == ["in_progress", "completed"]
    assert "answer = 42" in events[-1].raw_output["output"]  # an object, as strict clients need
    assert client.message_text(sid).strip() == ACP_ANSWER.text.strip()


async def test_a_call_the_server_leaves_in_content_is_recovered_and_run(tmp_path: Path, project: Path) -> None:
    model = write_scripted_model(tmp_path / "fenced", FENCED_FIRST, ACP_ANSWER)
    client = RecordingClient()
    with mlx_server(model) as url:
        async with punie_server(client, f"{url}/default_model", tmp_path) as (conn, _):
            sid = await start_session(conn, client, project)
            resp = await conn.prompt(session_id=sid, prompt=text_prompt("What does hello.py do?"))
    assert resp.stop_reason == "end_turn"
    events = client.tool_events(sid)
    assert events[0].session_update == "tool_call" and events[0].raw_input == {"path": "hello.py"}
    assert [e.status for e in events[1:] if e.status][-1] == "completed"
    assert "answer = 42" in events[-1].raw_output["output"]
    text = client.message_text(sid)
    assert text.startswith("Let me read it.") and "```" not in text and "read_file" not in text
    assert text.endswith(ACP_ANSWER.text.strip())
