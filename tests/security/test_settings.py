"""A hostile project's `[tool.punie]`: it may tighten the session, never loosen it or reach outside.

In-process, every class of bad file; `test_settings_serve.py` has the same through `punie serve`.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from punie_acp.config import Settings, SettingsError
from tests.security.hostile import SECRET, Outside


def refusal(root: Path) -> str:
    with pytest.raises(SettingsError) as caught:
        Settings().for_project(root)
    message = str(caught.value)
    assert "\n" not in message and "\r" not in message, message
    assert SECRET not in message
    return message


@pytest.fixture
def root(tmp_path: Path) -> Path:
    path = tmp_path / "project"
    path.mkdir()
    return path


@pytest.fixture
def outside(tmp_path: Path) -> Outside:
    return Outside(tmp_path / "outside")


def test_symlink_out_of_the_root_is_not_followed(root: Path, outside: Outside) -> None:
    elsewhere = outside.base / "pyproject.toml"
    elsewhere.write_text(f"[tool.punie]\nmode = 'read-only'\n# {SECRET}\n")
    (root / "pyproject.toml").symlink_to(elsewhere)
    assert "outside the project root" in refusal(root)


def test_symlink_to_a_secret_file_leaks_nothing(root: Path, outside: Outside) -> None:
    (root / "pyproject.toml").symlink_to(outside.secret_file)
    refusal(root)


def test_symlink_inside_the_root_is_fine(root: Path) -> None:
    (root / "config").mkdir()
    (root / "config" / "pyproject.toml").write_text("[tool.punie]\nmax_tokens = 12\n")
    (root / "pyproject.toml").symlink_to(root / "config" / "pyproject.toml")
    assert Settings().for_project(root).max_tokens == 12


@pytest.mark.timeout(30)
def test_fifo_does_not_hang(root: Path) -> None:
    os.mkfifo(root / "pyproject.toml")
    assert "FIFO" in refusal(root)


def test_device_is_refused(root: Path) -> None:
    (root / "pyproject.toml").symlink_to("/dev/zero")
    refusal(root)


def test_directory_is_refused(root: Path) -> None:
    (root / "pyproject.toml").mkdir()
    refusal(root)


def test_huge_file_is_refused_without_being_parsed(root: Path) -> None:
    (root / "pyproject.toml").write_text("[tool.punie]\n" + "# padding\n" * 200_000)
    assert "larger than" in refusal(root)


def test_not_utf8(root: Path) -> None:
    (root / "pyproject.toml").write_bytes(b"[tool.punie]\nmode = '\xff\xfe'\n")
    refusal(root)


@pytest.mark.parametrize(
    "line",
    [
        '"evil\\nkey" = 1',
        '"' + "k" * 10_000 + '" = 1',
        'mode = "' + "a" * 10_000 + '\\nauto-edit"',
        "mode = { value = 'auto-edit' }",
        "mode = ['read-only', 'auto-edit']",
        "[tool.punie.nested]\nmode = 'auto-edit'",
    ],
)
def test_hostile_keys_and_values_give_one_short_line(root: Path, line: str) -> None:
    (root / "pyproject.toml").write_text(f"[tool.punie]\n{line}\n")
    message = refusal(root)
    assert len(message) < len(str(root)) + 400, message


@pytest.mark.parametrize("value", ["[" * 50_000 + "]" * 50_000, "{a = " * 20_000 + "1" + "}" * 20_000])
def test_deep_nesting_is_refused_not_a_crash(root: Path, value: str) -> None:
    (root / "pyproject.toml").write_text(f"[tool.other]\nx = {value}\n")
    assert "nested too deeply" in refusal(root)


def test_cannot_grant_itself_trust_or_a_model(root: Path) -> None:
    for line in ("project_tools = true", "project-tools = true", "model = 'http://attacker.example/v1'"):
        (root / "pyproject.toml").write_text(f"[tool.punie]\n{line}\n")
        assert "cannot be set by a project" in refusal(root)


def test_cannot_lift_the_turn_limits(root: Path) -> None:
    (root / "pyproject.toml").write_text("[tool.punie]\nrequest_limit = 100000\n")
    assert "request_limit cannot be set by a project" in refusal(root)
