"""Settings precedence through the real `punie serve`: flags > env > project > user file > defaults.

Generation settings are read off the request bodies a recording OpenAI-compatible server receives;
the session's mode off `session/new`; the command timeout off a command that outlives a short one.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import acp
import pytest

from tests.e2e.scripts import write_script
from tests.security.hostile import output_of
from tests.support.acp_client import PUNIE, RecordingClient, punie_server, server_env, start_session, text_prompt
from tests.support.fake_openai import recording_openai_server

pytestmark = pytest.mark.anyio


def write_project(root: Path, table: str) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "pyproject.toml").write_text(f"[project]\nname = 'demo'\n\n[tool.punie]\n{table}\n")
    return root


def write_user_file(logs: Path, text: str) -> None:
    path = logs / "config" / "punie" / "config.toml"  # server_env points XDG_CONFIG_HOME at logs/config
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


async def sent_settings(root: Path, logs: Path, *args: str, env: dict[str, str] | None = None) -> dict[str, Any]:
    """max_tokens, temperature, top_p of the first model request of one prompt."""
    with recording_openai_server() as server:
        client = RecordingClient()
        async with punie_server(client, server.url, logs, *args, env=env) as (conn, _):
            sid = await start_session(conn, client, root)
            response = await conn.prompt(session_id=sid, prompt=text_prompt("hi"))
        assert response.stop_reason == "end_turn"
        assert client.message_text(sid) == "recorded"
        body = server.chat_requests()[0]
    return {key: body.get(key) for key in ("max_tokens", "temperature", "top_p")}


async def test_project_beats_user_file_which_beats_defaults(tmp_path: Path) -> None:
    root = write_project(tmp_path / "project", "temperature = 0.25")
    write_user_file(tmp_path / "logs", "temperature = 0.5\nmax_tokens = 333\n")
    sent = await sent_settings(root, tmp_path / "logs")
    assert sent == {"max_tokens": 333, "temperature": 0.25, "top_p": 1.0}


async def test_flag_beats_project(tmp_path: Path) -> None:
    root = write_project(tmp_path / "project", "temperature = 0.25\ntop_p = 0.5")
    sent = await sent_settings(root, tmp_path / "logs", "--temperature", "0.75")
    assert sent == {"max_tokens": 4096, "temperature": 0.75, "top_p": 0.5}


async def test_env_beats_project(tmp_path: Path) -> None:
    root = write_project(tmp_path / "project", "temperature = 0.25\nmax_tokens = 50")
    sent = await sent_settings(root, tmp_path / "logs", env={"PUNIE_TEMPERATURE": "0.6"})
    assert sent == {"max_tokens": 50, "temperature": 0.6, "top_p": 1.0}


async def _run_slow_command(root: Path, logs: Path, *args: str) -> tuple[bool, str]:
    logs.mkdir(parents=True, exist_ok=True)
    call = {"call": "run_command", "args": {"command": "sleep 2; echo finished"}}
    model = write_script(logs, [[call], [{"say": "done"}]])
    client = RecordingClient(permission="allow_once")
    async with punie_server(client, model, logs, *args) as (conn, _):
        sid = await start_session(conn, client, root)
        await conn.prompt(session_id=sid, prompt=text_prompt("run it"))
    [final] = [e for e in client.tool_events(sid) if e.status in ("completed", "failed")]
    return final.status == "completed", output_of(final)


async def test_issue_case_flag_timeout_beats_project_timeout(tmp_path: Path) -> None:
    root = write_project(tmp_path / "project", "command_timeout = 1")
    # The project's one second applies when the user said nothing ...
    ok, output = await _run_slow_command(root, tmp_path / "plain")
    assert not ok and "finished" not in output
    # ... and `--command-timeout 60` beats it (it did not before).
    ok, output = await _run_slow_command(root, tmp_path / "flag", "--command-timeout", "60")
    assert ok and "finished" in output, output


async def _session_modes(roots: list[Path], logs: Path, *args: str, env: dict[str, str] | None = None) -> list[str]:
    """The mode each root's new session starts in, on one server."""
    client = RecordingClient()
    modes: list[str] = []
    async with punie_server(client, "test", logs, *args, env=env) as (conn, _):
        await conn.initialize(protocol_version=1)
        for root in roots:
            session = await conn.new_session(cwd=str(root), mcp_servers=[])
            assert session.modes is not None
            modes.append(str(session.modes.current_mode_id))
    return modes


async def test_project_cannot_loosen_mode_but_may_tighten_it(tmp_path: Path) -> None:
    loose = write_project(tmp_path / "loose", "mode = 'auto-edit'")
    strict = write_project(tmp_path / "strict", "mode = 'read-only'")
    logs = tmp_path / "logs"
    assert await _session_modes([loose, strict], logs) == ["ask", "read-only"]
    assert await _session_modes([loose], logs, env={"PUNIE_MODE": "read-only"}) == ["read-only"]
    assert await _session_modes([strict], logs, "--mode", "auto-edit") == ["auto-edit"]  # the user's flag wins
    write_user_file(logs, "mode = 'auto-edit'\n")  # the user file is beneath the project
    assert await _session_modes([strict, loose], logs) == ["read-only", "auto-edit"]


async def test_project_model_key_is_rejected_with_a_clear_message(tmp_path: Path) -> None:
    root = write_project(tmp_path / "project", "model = 'mlx-community/Qwen3-4B-4bit'")
    client = RecordingClient()
    async with punie_server(client, "test", tmp_path / "logs") as (conn, _):
        await conn.initialize(protocol_version=1)
        with pytest.raises(acp.RequestError) as caught:
            await conn.new_session(cwd=str(root), mcp_servers=[])
    error = caught.value
    text = f"{error} {error.data}"
    assert f"{root / 'pyproject.toml'} [tool.punie]: model cannot be set by a project" in text, text


async def test_bad_env_value_stops_serve_with_one_line(tmp_path: Path) -> None:
    env = server_env(tmp_path, {"PUNIE_MAX_TOKENS": "abc"})
    proc = await asyncio.create_subprocess_exec(
        *PUNIE, "serve", "--model", "test", env=env, stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 2
    assert out == b""  # stdout is the protocol channel
    lines = err.decode().strip().splitlines()
    assert lines == [
        "punie: environment variable PUNIE_MAX_TOKENS: expected a whole number from 1 to 1048576, got 'abc'"
    ]
