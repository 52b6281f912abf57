"""The code-intelligence tools through the real `punie serve`, a scripted model and the real `ty server`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.codeintel.project import make_project, outputs
from tests.security.hostile import run_attack

pytestmark = pytest.mark.anyio


async def test_every_tool_answers_from_ty(tmp_path: Path) -> None:
    root = make_project(tmp_path)
    steps: list[tuple[str, dict[str, Any]]] = [
        ("goto_definition", {"path": "pkg/main.py", "symbol": "total_area", "line": 0}),
        ("goto_definition", {"path": "pkg/main.py", "line": 5, "column": 24}),
        ("find_references", {"path": "pkg/shapes.py", "symbol": "total_area"}),
        ("hover", {"path": "pkg/main.py", "line": 5, "column": 12}),
        ("document_symbols", {"path": "pkg/shapes.py"}),
        ("workspace_symbols", {"query": "Square"}),
        ("goto_implementation", {"path": "pkg/shapes.py", "line": 6, "column": 9}),
        ("call_hierarchy", {"path": "pkg/shapes.py", "symbol": "total_area", "direction": "incoming"}),
        ("diagnostics", {"path": "pkg/main.py"}),
    ]
    result = await run_attack(root, steps, tmp_path / "log")
    texts = outputs(result.finals())
    for text in texts:
        print("----\n" + text)
    assert len(texts) == len(steps)
    assert "pkg/shapes.py:17:" in texts[0] and "def total_area" in texts[0]
    assert "pkg/shapes.py:9:" in texts[1] and "class Square" in texts[1]
    assert "pkg/main.py:1:" in texts[2] and "pkg/main.py:5:" in texts[2] and "pkg/shapes.py:17:" in texts[2]
    assert "float" in texts[3]
    assert "class Square" in texts[4] or "square" in texts[4].lower()
    assert "pkg/shapes.py:9:" in texts[5]
    assert "pkg/shapes.py:13:" in texts[6]
    assert "report" in texts[7] and "pkg/main.py:4:" in texts[7]
    assert "0 diagnostic" in texts[8]
