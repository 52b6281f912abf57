"""Attacks on code intelligence through the real `punie serve`: hostile roots and misbehaving servers.

The language server starts without asking, so a root must not steer it outside (its ty config,
links), and a server's answers must not take punie down, hang a call, or open a file outside.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import acp
import anyio
import pytest

from tests.codeintel.project import make_project, outputs
from tests.e2e.scripts import write_script
from tests.security.hostile import SECRET, Outside, assert_contained, calls, run_attack
from tests.support.acp_client import RecordingClient, punie_server, start_session, text_prompt

pytestmark = pytest.mark.anyio
FAKE = Path(__file__).parents[1] / "codeintel" / "fake_server.py"


def _secret_module(outside: Outside) -> None:
    (outside.base / "secretmod.py").write_text(f"VALUE = '{SECRET}'\n\n\ndef leak() -> str:\n    return VALUE\n")


async def test_a_hostile_ty_config_does_not_reach_outside(tmp_path: Path) -> None:
    outside = Outside(tmp_path / "outside")
    _secret_module(outside)
    root = make_project(tmp_path)
    (root / "pyproject.toml").write_text(f'[tool.ty.environment]\nextra-paths = ["{outside.base}"]\n')
    (root / "ty.toml").write_text(f'[environment]\nextra-paths = ["{outside.base}"]\ntypeshed = "{outside.base}"\n')
    (root / "probe.py").write_text("import secretmod\n\nprint(secretmod.VALUE)\nsecretmod.leak()\n")
    steps: list[tuple[str, dict[str, Any]]] = [
        ("goto_definition", {"path": "probe.py", "line": 3, "column": 17}),
        ("hover", {"path": "probe.py", "line": 3, "column": 17}),
        ("find_references", {"path": "probe.py", "symbol": "secretmod"}),
        ("call_hierarchy", {"path": "probe.py", "line": 4, "column": 11, "direction": "outgoing"}),
        ("workspace_symbols", {"query": "leak"}),
    ]
    result = await run_attack(root, steps, tmp_path / "log")
    assert_contained(result, outside)
    texts = outputs(result.finals())
    assert str(outside.base) not in "\n".join(texts)
    assert "no definition" in texts[0] or "0 definition" in texts[0] or "not found" in texts[0], texts[0]


async def test_a_symlink_leaving_the_root_is_refused(tmp_path: Path) -> None:
    outside = Outside(tmp_path / "outside")
    _secret_module(outside)
    root = make_project(tmp_path)
    (root / "secretmod.py").symlink_to(outside.base / "secretmod.py")
    (root / "probe.py").write_text("import secretmod\n\nprint(secretmod.VALUE)\n")
    steps: list[tuple[str, dict[str, Any]]] = [
        ("goto_definition", {"path": "probe.py", "line": 3, "column": 17}),
        ("hover", {"path": "secretmod.py", "line": 1, "column": 1}),
        ("document_symbols", {"path": "secretmod.py"}),
    ]
    result = await run_attack(root, steps, tmp_path / "log")
    assert_contained(result, outside)
    texts = outputs(result.finals())
    assert "refused" in texts[0] and "secretmod.py" in texts[0]
    assert "outside the project root" in texts[1] and "outside the project root" in texts[2]


@pytest.mark.parametrize("mode", ["flood", "huge", "garbage", "silent"])
async def test_a_misbehaving_server_never_hangs_or_breaks_punie(tmp_path: Path, mode: str) -> None:
    outside = Outside(tmp_path / "outside")
    root = make_project(tmp_path)
    state = tmp_path / "state"
    state.mkdir()
    servers = f".py={sys.executable} {FAKE} {mode} {state}"
    steps: list[tuple[str, dict[str, Any]]] = [("goto_definition", {"path": "pkg/main.py", "line": 5, "column": 12})]
    args = ["--language-servers", servers]
    result = await run_attack(root, steps, tmp_path / "log", args=args, env={"PUNIE_LSP_REQUEST_TIMEOUT": "3"})
    assert_contained(result, outside)
    (text,) = outputs(result.finals())
    if mode == "flood":  # answered, or cut off by the request's time limit: either way the call ends
        assert "no definition" in text or "did not answer" in text, text
    elif mode == "garbage":  # the answer points outside: shown read-only, never as an editor location
        assert "/etc/passwd:1:1 (outside the project: read-only)" in text
        assert not any(
            str(loc.path).startswith("/etc")
            for e in result.client.tool_events(result.session_id)
            for loc in e.locations or []
        )
    else:
        assert "stopped" in text or "did not answer" in text, text


async def test_a_project_cannot_choose_the_language_server(tmp_path: Path) -> None:
    outside = Outside(tmp_path / "outside")
    root = make_project(tmp_path)
    evil = outside.script()
    (root / "pyproject.toml").write_text(f'[tool.punie]\nlanguage_servers = ".py={evil}"\n')
    client = RecordingClient()
    model = write_script(tmp_path, calls(("goto_definition", {"path": "pkg/main.py", "symbol": "Square"})))
    async with punie_server(client, model, tmp_path / "log") as (conn, _proc):
        with pytest.raises(acp.RequestError, match="language_servers"):
            await start_session(conn, client, root)
    assert not outside.marker.exists()


async def test_a_project_venv_ty_is_never_the_server(tmp_path: Path) -> None:
    outside = Outside(tmp_path / "outside")
    root = make_project(tmp_path)
    fake_ty = root / ".venv" / "bin" / "ty"
    fake_ty.parent.mkdir(parents=True)
    (root / ".venv" / "pyvenv.cfg").write_text("home = /usr/bin\n")
    fake_ty.write_text(f"#!/bin/sh\n{outside.payload()}\n")
    fake_ty.chmod(0o755)
    steps: list[tuple[str, dict[str, Any]]] = [("goto_definition", {"path": "pkg/main.py", "symbol": "total_area"})]
    env = {"PATH": f"{fake_ty.parent}:/usr/bin:/bin", "VIRTUAL_ENV": str(root / ".venv")}
    result = await run_attack(root, steps, tmp_path / "log", args=["--project-tools"], env=env)
    assert_contained(result, outside)
    assert "pkg/shapes.py:17:" in outputs(result.finals())[0]


async def test_a_link_out_of_the_root_appearing_later_stops_ty(tmp_path: Path) -> None:
    outside = Outside(tmp_path / "outside")
    _secret_module(outside)
    root = make_project(tmp_path)
    (root / "probe.py").write_text("import secretmod\n\nprint(secretmod.VALUE)\n")
    ask: dict[str, Any] = {"call": "hover", "args": {"path": "probe.py", "line": 3, "column": 17}}
    responses: list[list[dict[str, Any]]] = []
    for _ in range(40):
        responses += [[ask], [{"say": "ok"}]]
    client = RecordingClient()
    model = write_script(tmp_path, responses)
    async with punie_server(client, model, tmp_path / "log") as (conn, _proc):
        session_id = await start_session(conn, client, root)
        await conn.prompt(session_id=session_id, prompt=text_prompt("what is it?"))
        (root / "secretmod.py").symlink_to(outside.base / "secretmod.py")  # e.g. a `git checkout`
        answers: list[str] = []
        with anyio.fail_after(60):  # a failure guard: the watcher's batch arrives within a second or so
            for _ in range(39):
                await conn.prompt(session_id=session_id, prompt=text_prompt("and now?"))
                answers.append(outputs(_finals(client, session_id))[-1])
                if "link leading outside" in answers[-1]:
                    break
    assert "secretmod.py is a link leading outside the project root" in answers[-1], answers
    assert SECRET not in json.dumps([u.model_dump(mode="json") for u in client.updates[session_id]])


def _finals(client: RecordingClient, session_id: str) -> list[Any]:
    return [
        e
        for e in client.tool_events(session_id)
        if e.session_update == "tool_call_update" and e.status in ("completed", "failed")
    ]
