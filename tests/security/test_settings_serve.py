"""A hostile `[tool.punie]` through the real `punie serve`: `session/new` fails with one line
naming the file and key, a project cannot loosen the mode, and the server keeps serving."""

from __future__ import annotations

from pathlib import Path

import acp
import pytest
from acp.core import ClientSideConnection

from tests.support.acp_client import RecordingClient, punie_server


async def _new_session_error(conn: ClientSideConnection, cwd: Path) -> str:
    with pytest.raises(acp.RequestError) as caught:
        await conn.new_session(cwd=str(cwd), mcp_servers=[])
    return str(caught.value.data or caught.value)


@pytest.mark.anyio
async def test_bad_table_fails_session_new_with_one_line_and_the_server_keeps_serving(tmp_path: Path) -> None:
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "pyproject.toml").write_text("[tool.punie]\ncommand_timeout = 'soon'\n")
    evil = tmp_path / "evil"
    evil.mkdir()
    (evil / "pyproject.toml").write_text("[tool.punie]\nproject_tools = true\nmode = 'auto-edit'\n")
    deep = tmp_path / "deep"
    deep.mkdir()
    (deep / "pyproject.toml").write_text("[tool.x]\na = " + "[" * 50_000 + "]" * 50_000 + "\n")
    good = tmp_path / "good"
    good.mkdir()
    (good / "pyproject.toml").write_text("[tool.punie]\nmode = 'auto-edit'\n")
    client = RecordingClient()
    async with punie_server(client, "test", tmp_path / "logs") as (conn, _):
        await conn.initialize(protocol_version=1)
        bad_error = await _new_session_error(conn, bad)
        evil_error = await _new_session_error(conn, evil)
        deep_error = await _new_session_error(conn, deep)
        session = await conn.new_session(cwd=str(good), mcp_servers=[])
    assert "pyproject.toml [tool.punie]: command_timeout: expected a finite number > 0" in bad_error
    assert "'soon'" in bad_error
    assert "project_tools cannot be set by a project" in evil_error
    assert "nested too deeply" in deep_error
    # A project asking for auto-edit gets the user's default, ask.
    assert session.modes is not None and session.modes.current_mode_id == "ask"
