"""A file changed on disk behind the agent's back, within one session of the real `punie serve`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anyio
import pytest

from tests.codeintel.project import make_project, outputs
from tests.e2e.scripts import write_script
from tests.support.acp_client import RecordingClient, punie_server, start_session, text_prompt

pytestmark = pytest.mark.anyio
ROUNDS = 40


async def test_definition_follows_a_change_on_disk_seen_by_the_watcher(tmp_path: Path) -> None:
    root = make_project(tmp_path)
    ask: dict[str, Any] = {"call": "goto_definition", "args": {"path": "pkg/main.py", "symbol": "Square", "line": 0}}
    responses: list[list[dict[str, Any]]] = []
    for n in range(ROUNDS):
        ask_n = {**ask, "args": {**ask["args"], "column": n}}  # distinct calls: no duplicate suppression
        responses += [[ask_n], [{"say": "ok"}]]
    client = RecordingClient()
    model = write_script(tmp_path, responses)
    async with punie_server(client, model, tmp_path / "log") as (conn, _proc):
        session_id = await start_session(conn, client, root)
        await conn.prompt(session_id=session_id, prompt=text_prompt("where?"))
        first = outputs(_finals(client, session_id))[-1]
        assert "pkg/shapes.py:9:" in first
        shapes = root / "pkg" / "shapes.py"
        shapes.write_text("\n\n\n" + shapes.read_text())  # not through the agent: only the watcher sees it
        answers: list[str] = []
        with anyio.fail_after(60):  # a failure guard: the watcher's batch arrives within a second or so
            for _ in range(ROUNDS - 1):
                await conn.prompt(session_id=session_id, prompt=text_prompt("and now?"))
                answers.append(outputs(_finals(client, session_id))[-1])
                if "pkg/shapes.py:12:" in answers[-1]:
                    break
        assert "pkg/shapes.py:12:" in answers[-1], answers


def _finals(client: RecordingClient, session_id: str) -> list[Any]:
    return [
        e
        for e in client.tool_events(session_id)
        if e.session_update == "tool_call_update" and e.status in ("completed", "failed")
    ]
