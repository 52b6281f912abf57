"""The snippets in editors/ are exactly what `punie init` writes into an empty home (with the
command shown as a placeholder), so the docs cannot drift from the command."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

from punie_acp.cli import main
from punie_acp.settings import DEFAULT_MODEL

EDITORS = Path(__file__).parents[2] / "editors"
PLACEHOLDER = "/abs/path/to/punie"


@pytest.mark.parametrize(
    ("editor", "written", "snippet"),
    [
        ("zed", ".config/zed/settings.json", "zed/settings.json"),
        ("pycharm", ".jetbrains/acp.json", "pycharm/acp.json"),
    ],
)
def test_the_snippet_is_what_init_writes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, editor: str, written: str, snippet: str
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("XDG_CONFIG_HOME", raising=False)
    monkeypatch.delenv("PUNIE_MODEL", raising=False)
    assert main(["init", "--editor", editor]) == 0
    text = (tmp_path / written).read_text()
    command = str(Path(os.path.abspath(sys.executable)).parent / "punie")
    assert json.dumps(command) in text
    assert text.replace(json.dumps(command), json.dumps(PLACEHOLDER)) == (EDITORS / snippet).read_text()
    assert DEFAULT_MODEL in text


@pytest.mark.parametrize("editor", ["zed", "pycharm"])
def test_each_editor_folder_says_where_the_file_lives_and_how_to_pick_a_model(editor: str) -> None:
    readme = (EDITORS / editor / "README.md").read_text()
    for topic in ("Where the file lives", "Picking a model", "The agent's log", f"punie init --editor {editor}"):
        assert topic in readme
