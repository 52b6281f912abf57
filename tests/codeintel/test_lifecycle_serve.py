"""Freshness, diagnostics after edits, crashes and missing servers, through the real `punie serve`."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

from tests.codeintel.project import make_project, outputs
from tests.security.hostile import run_attack
from tests.support.acp_client import RecordingClient

pytestmark = pytest.mark.anyio
FAKE = Path(__file__).with_name("fake_server.py")


async def test_definition_follows_an_agent_edit_and_a_change_behind_its_back(tmp_path: Path) -> None:
    root = make_project(tmp_path)
    moved = "\n\nclass Square(Shape):"
    steps: list[tuple[str, dict[str, Any]]] = [
        ("goto_definition", {"path": "pkg/main.py", "symbol": "Square", "line": 0}),
        (
            "edit_file",
            {"path": "pkg/shapes.py", "old_text": "\n\nclass Square(Shape):", "new_text": "\n\n\n\n" + moved},
        ),
        ("goto_definition", {"path": "pkg/main.py", "symbol": "Square", "line": 0}),
    ]
    result = await run_attack(root, steps, tmp_path / "log", client=RecordingClient("allow_once"))
    texts = outputs(result.finals())
    assert "pkg/shapes.py:9:" in texts[0]
    assert "pkg/shapes.py:13:" in texts[2], texts[2]
    # Behind the agent's back: the file on disk changes between two turns of a new serve.
    (root / "pkg" / "shapes.py").write_text("\n\n\n" + (root / "pkg" / "shapes.py").read_text())
    again = await run_attack(root, steps[:1], tmp_path / "log2")
    assert "pkg/shapes.py:16:" in outputs(again.finals())[0]


async def test_an_edit_reports_exactly_the_error_it_introduced(tmp_path: Path) -> None:
    root = make_project(tmp_path)
    (root / "pkg" / "old.py").write_text("x: int = 'old backlog error'\n")
    steps: list[tuple[str, dict[str, Any]]] = [
        ("edit_file", {"path": "pkg/old.py", "old_text": "x: int", "new_text": "y: str = 'fine'\nx: int"}),
        ("edit_file", {"path": "pkg/main.py", "old_text": "Square(2.0)", "new_text": "Square('two')"}),
    ]
    result = await run_attack(root, steps, tmp_path / "log", client=RecordingClient("allow_once"))
    texts = outputs(result.finals())
    assert texts[0].startswith('{"output": "Edited pkg/old.py') and "introduced" not in texts[0]
    assert "old backlog" not in texts[0]
    assert "introduced 1 problem" in texts[1], texts[1]
    assert "pkg/main.py:5:" in texts[1] and "invalid-argument-type" in texts[1]


async def test_an_edit_reports_what_it_broke_in_another_open_file(tmp_path: Path) -> None:
    root = make_project(tmp_path)
    steps: list[tuple[str, dict[str, Any]]] = [
        ("diagnostics", {"path": "pkg/main.py"}),
        ("edit_file", {"path": "pkg/shapes.py", "old_text": "side: float) -> None", "new_text": "side: str) -> None"}),
    ]
    result = await run_attack(root, steps, tmp_path / "log", client=RecordingClient("allow_once"))
    texts = outputs(result.finals())
    assert "0 diagnostic" in texts[0]
    assert "pkg/main.py:5:" in texts[1] and "(in another file)" in texts[1], texts[1]


async def test_a_server_that_dies_mid_request_is_restarted_once_then_fails_clearly(tmp_path: Path) -> None:
    root = make_project(tmp_path)
    state = tmp_path / "state"
    state.mkdir()
    servers = f".py={sys.executable} {FAKE} die {state}"
    steps: list[tuple[str, dict[str, Any]]] = [
        ("goto_definition", {"path": "pkg/main.py", "line": 5, "column": c}) for c in (12, 13)
    ]
    result = await run_attack(root, steps, tmp_path / "log", args=["--language-servers", servers])
    texts = outputs(result.finals())
    assert "stopped twice" in texts[0] and "grep" in texts[0]
    assert (state / "starts").read_text() == "2"  # started, restarted once, never again
    assert "stopped twice" in texts[1]
    assert result.still_serves


async def test_a_server_that_is_not_installed_is_a_clear_error_with_an_honest_grep_fallback(tmp_path: Path) -> None:
    root = make_project(tmp_path)
    servers = ".py=no-such-language-server --stdio"
    steps: list[tuple[str, dict[str, Any]]] = [
        ("goto_definition", {"path": "pkg/main.py", "symbol": "total_area"}),
        ("hover", {"path": "pkg/main.py", "symbol": "total_area"}),
        ("find_references", {"path": "pkg/main.py", "line": 5, "column": 14}),
    ]
    result = await run_attack(root, steps, tmp_path / "log", args=["--language-servers", servers])
    texts = outputs(result.finals())
    assert "'no-such-language-server'" in texts[0] and "not found on PATH" in texts[0]
    assert "text matches from grep" in texts[0] and "pkg/shapes.py:17:" in texts[0]
    assert "not found on PATH" in texts[1] and "grep" not in texts[1]  # hover has no honest text answer
    assert "text matches from grep for 'total_area', not resolved references" in texts[2]
    assert "pkg/main.py:1:" in texts[2] and "pkg/shapes.py:17:" in texts[2]
