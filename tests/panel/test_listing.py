"""Being listed in the ACP registry: the manifest, and the probe its CI makes with no model present."""

from __future__ import annotations

import json
import tomllib
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from punie_acp import __version__
from tests.support.acp_client import RecordingClient, punie_server

REPO = Path(__file__).resolve().parents[2]


def test_manifest_pins_this_version_and_runs_punie_serve_through_uvx() -> None:
    manifest = json.loads((REPO / "agent.json").read_text())
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    assert manifest["version"] == __version__ == project["version"]
    uvx = manifest["distribution"]["uvx"]
    assert uvx == {"package": f"{project['name']}=={project['version']}", "cmd": "punie", "args": ["serve"]}
    assert "punie" in project["scripts"]
    assert manifest["license"] == project["license"]["text"]
    assert {"id", "name", "description", "authors"} <= manifest.keys()


def test_icon_is_a_square_16px_svg() -> None:
    root = ET.fromstring((REPO / "icon.svg").read_text())
    assert root.tag.endswith("svg")
    assert (root.get("width"), root.get("height"), root.get("viewBox")) == ("16", "16", "0 0 16 16")


@pytest.mark.anyio
async def test_registry_probe_answers_without_a_model(tmp_path: Path, project: Path) -> None:
    client = RecordingClient()
    missing = str(tmp_path / "no-such-model")
    async with punie_server(client, missing, tmp_path) as (conn, _):
        init = await conn.initialize(protocol_version=1, client_capabilities=client.capabilities())
        assert init.auth_methods and init.auth_methods[0].id == "local"
        await conn.authenticate(method_id=init.auth_methods[0].id)
        sid = (await conn.new_session(cwd=str(project), mcp_servers=[])).session_id
        listed = await conn.list_sessions(cwd=str(project))
        assert [s.session_id for s in listed.sessions] == [sid]
        await conn.close_session(session_id=sid)
