"""The choices made in the panel (mode, model, thinking) come back with the session after a restart."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from acp import schema

from punie_acp.config import Settings
from punie_acp.models.base import StatelessBackend
from punie_acp.models.demo import DemoModel
from punie_acp.store.sqlite import SqliteStore
from tests.store.harness import served

pytestmark = pytest.mark.anyio


def _current(options: list[schema.SessionConfigOptionSelect | schema.SessionConfigOptionBoolean]) -> dict[str, object]:
    return {o.id: o.current_value for o in options}


async def test_mode_model_and_thinking_survive_a_restart(tmp_path: Path, project: Path) -> None:
    script = tmp_path / "other.json"
    script.write_text(json.dumps({"responses": [[{"say": "from the other model"}]]}))
    settings = Settings(log_file="", model="test", models=(f"script:{script}",))
    db = tmp_path / "sessions.db"
    async with served(SqliteStore(db), StatelessBackend(DemoModel(), "punie-test"), settings=settings) as lb:
        sid = (await lb.conn.new_session(cwd=str(project), mcp_servers=[])).session_id
        await lb.conn.set_config_option(session_id=sid, config_id="mode", value="read-only")
        await lb.conn.set_config_option(session_id=sid, config_id="model", value="model-1")
        await lb.conn.set_config_option(session_id=sid, config_id="thinking", value="off")
    async with served(SqliteStore(db), StatelessBackend(DemoModel(), "punie-test"), settings=settings) as lb:
        loaded = await lb.conn.load_session(cwd=str(project), session_id=sid, mcp_servers=[])
        assert loaded is not None
        assert _current(loaded.config_options or []) == {"model": "model-1", "thinking": "off", "mode": "read-only"}
    # A server that no longer offers that model keeps the session on its default.
    plain = Settings(log_file="", model="test")
    async with served(SqliteStore(db), StatelessBackend(DemoModel(), "punie-test"), settings=plain) as lb:
        resumed = await lb.conn.resume_session(cwd=str(project), session_id=sid, mcp_servers=[])
        assert _current(resumed.config_options or []) == {"model": "default", "thinking": "off", "mode": "read-only"}
