"""`punie init` through the real CLI, with HOME and XDG_CONFIG_HOME pointed at a temporary home."""

from __future__ import annotations

import json
import os
import stat
import sys
from pathlib import Path
from typing import Any

import pytest

from punie_acp import __version__
from punie_acp.cli import main
from punie_acp.editor_setup import files
from punie_acp.editor_setup.jsonc import plain_value

THIS_PUNIE = str(Path(os.path.abspath(sys.executable)).parent / "punie")


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("XDG_CONFIG_HOME", raising=False)
    monkeypatch.delenv("PUNIE_MODEL", raising=False)
    monkeypatch.chdir(tmp_path)
    return home


def zed(home: Path) -> Path:
    return home / ".config" / "zed" / "settings.json"


def jetbrains(home: Path) -> Path:
    return home / ".jetbrains" / "acp.json"


def punie_entry(path: Path) -> Any:
    return plain_value(path.read_text())["agent_servers"]["Punie"]


def init(*args: str) -> int:
    return main(["init", *args])


def test_a_fresh_home_gets_both_files_pointing_at_this_punie(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert init("--model", "test") == 0
    assert punie_entry(zed(home)) == {
        "type": "custom",
        "command": THIS_PUNIE,
        "args": ["serve", "--model", "test"],
        "env": {},
    }
    assert punie_entry(jetbrains(home)) == {"command": THIS_PUNIE, "args": ["serve", "--model", "test"], "env": {}}
    out = capsys.readouterr().out
    assert f"Zed: created {zed(home)}" in out and f"PyCharm (JetBrains): created {jetbrains(home)}" in out


def test_without_model_the_configured_model_is_written(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PUNIE_MODEL", "mlx-community/Some-Model-4bit")
    assert init("--editor", "pycharm") == 0
    assert punie_entry(jetbrains(home))["args"] == ["serve", "--model", "mlx-community/Some-Model-4bit"]
    assert not zed(home).exists()


def test_xdg_config_home_is_where_zed_looks(home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    assert init("--editor", "zed", "--model", "test") == 0
    assert punie_entry(tmp_path / "xdg" / "zed" / "settings.json")["command"] == THIS_PUNIE
    assert not zed(home).exists()


def test_relative_model_paths_are_made_absolute(home: Path, tmp_path: Path) -> None:
    (tmp_path / "models" / "qwen").mkdir(parents=True)
    assert init("--editor", "zed", "--model", "models/qwen") == 0
    assert punie_entry(zed(home))["args"][-1] == str(tmp_path / "models" / "qwen")
    assert init("--editor", "zed", "--model", "script:turns.json") == 0
    assert punie_entry(zed(home))["args"][-1] == f"script:{tmp_path / 'turns.json'}"


ZED_SETTINGS = """// Zed settings
{
  "theme": "One Dark", // mine
  "agent_servers": {
    "Claude Code": { "command": "claude", }, // keep
    "Punie": { "command": "/old/punie", "args": ["serve"], "env": { "PUNIE_LOG_LEVEL": "DEBUG" } },
  },
}
"""


def test_an_existing_zed_file_is_merged_with_a_backup_and_its_permissions(home: Path) -> None:
    zed(home).parent.mkdir(parents=True)
    zed(home).write_text(ZED_SETTINGS)
    zed(home).chmod(0o600)
    assert init("--editor", "zed", "--model", "test") == 0
    new = zed(home).read_text()
    assert new.startswith('// Zed settings\n{\n  "theme": "One Dark", // mine\n  "agent_servers": {\n')
    assert '    "Claude Code": { "command": "claude", }, // keep\n' in new
    assert punie_entry(zed(home))["env"] == {"PUNIE_LOG_LEVEL": "DEBUG"}  # the user's env is kept
    assert punie_entry(zed(home))["command"] == THIS_PUNIE
    (backup,) = zed(home).parent.glob("settings.json.punie-backup-*")
    assert backup.read_text() == ZED_SETTINGS
    assert stat.S_IMODE(zed(home).stat().st_mode) == 0o600
    assert stat.S_IMODE(backup.stat().st_mode) == 0o600
    assert [p.name for p in zed(home).parent.iterdir() if "punie-tmp" in p.name] == []


def test_dry_run_shows_a_diff_and_writes_nothing(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    zed(home).parent.mkdir(parents=True)
    zed(home).write_text(ZED_SETTINGS)
    assert init("--editor", "zed", "--model", "test", "--dry-run") == 0
    out = capsys.readouterr().out
    assert f"--- {zed(home)}\n+++ {zed(home)} (punie init)\n" in out
    assert '-    "Punie": { "command": "/old/punie"' in out
    assert f'+      "command": "{THIS_PUNIE}",' in out
    assert zed(home).read_text() == ZED_SETTINGS
    assert sorted(p.name for p in zed(home).parent.iterdir()) == ["settings.json"]


def test_a_second_run_changes_nothing(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert init("--model", "test") == 0
    before = zed(home).read_text()
    assert init("--model", "test") == 0
    assert zed(home).read_text() == before
    assert "already starts this punie" in capsys.readouterr().out
    assert list(zed(home).parent.glob("*.punie-backup-*")) == []


def test_uvx_writes_uvx_absolute_path(home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "uvx").write_text("#!/bin/sh\n")
    (bin_dir / "uvx").chmod(0o755)
    monkeypatch.setenv("PATH", str(bin_dir))
    assert init("--editor", "pycharm", "--model", "test", "--uvx") == 0
    written = punie_entry(jetbrains(home))
    assert written["command"] == str(bin_dir / "uvx")
    assert written["args"] == ["--from", f"punie-acp=={__version__}", "punie", "serve", "--model", "test"]


def test_uvx_missing_is_one_line(home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    assert init("--uvx", "--model", "test") == 2
    assert not zed(home).exists()


# Files punie must not rewrite -----------------------------------------------------------------


def refused(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[str, str]:
    assert init("--editor", "zed", "--model", "test", *args) == 1
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("punie: Zed: left "), captured.err
    assert "by hand (Zed):\n" in captured.out
    snippet = captured.out.split("by hand (Zed):\n", 1)[1]
    assert json.loads(snippet)["agent_servers"]["Punie"]["command"] == THIS_PUNIE
    return lines[0], captured.out


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b'{"agent_servers": [] }', '"agent_servers" at line 1, column 2 is not an object'),
        (b'{"theme": "x",, }', "not valid JSON (with comments)"),
        (b'{"agent_servers": {"Punie": {}, "Punie": {}}}', '"Punie" appears 2 times'),
        (b'{"theme": "\xff\xfe"}', "is not UTF-8 text (byte 11)"),
        (b"{" + b" " * (files.MAX_BYTES + 1) + b"}", "too large to be a settings file"),
    ],
)
def test_unmergeable_files_are_left_alone_with_the_snippet_printed(
    home: Path, capsys: pytest.CaptureFixture[str], content: bytes, reason: str
) -> None:
    zed(home).parent.mkdir(parents=True)
    zed(home).write_bytes(content)
    line, _ = refused(capsys)
    assert reason in line
    assert zed(home).read_bytes() == content
    assert sorted(p.name for p in zed(home).parent.iterdir()) == ["settings.json"]


def test_a_link_to_a_same_named_file_of_mine_is_written_through(
    home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    dotfiles = tmp_path / "dotfiles" / "zed"
    dotfiles.mkdir(parents=True)
    (dotfiles / "settings.json").write_text('{"theme": "x"}\n')
    zed(home).parent.mkdir(parents=True)
    zed(home).symlink_to(dotfiles / "settings.json")
    assert init("--editor", "zed", "--model", "test") == 0
    assert zed(home).is_symlink()
    assert punie_entry(dotfiles / "settings.json")["command"] == THIS_PUNIE
    assert f"through the link to {dotfiles / 'settings.json'}" in capsys.readouterr().out


def test_a_link_to_an_unrelated_file_is_refused(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    other = home / ".ssh" / "config.json"
    other.parent.mkdir()
    other.write_text('{"keep": "me"}')
    zed(home).parent.mkdir(parents=True)
    zed(home).symlink_to(other)
    line, _ = refused(capsys)
    assert "not to a file named settings.json; not following it" in line
    assert other.read_text() == '{"keep": "me"}'


def test_a_dangling_link_is_refused(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    zed(home).parent.mkdir(parents=True)
    zed(home).symlink_to(home / "gone" / "settings.json")
    line, _ = refused(capsys)
    assert "symbolic link that leads nowhere" in line
    assert not (home / "gone").exists()


def test_a_fifo_is_refused_without_hanging(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    zed(home).parent.mkdir(parents=True)
    os.mkfifo(zed(home))
    line, _ = refused(capsys)
    assert "is not a regular file" in line


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads any file")
def test_an_unreadable_file_is_refused(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    zed(home).parent.mkdir(parents=True)
    zed(home).write_text("{}")
    zed(home).chmod(0)
    line, _ = refused(capsys)
    assert "cannot read" in line and "Permission denied" in line


def test_a_file_changed_between_read_and_write_is_not_overwritten(tmp_path: Path) -> None:
    path = tmp_path / "settings.json"
    path.write_text("{}")
    target = files.locate(path)
    before = files.read(target)
    path.write_text('{"the editor": "saved this meanwhile"}')
    with pytest.raises(files.SetupRefused, match="changed while punie was merging it"):
        files.replace(target, before, '{"agent_servers": {}}')
    assert path.read_text() == '{"the editor": "saved this meanwhile"}'
    assert sorted(p.name for p in tmp_path.iterdir()) == ["settings.json"]


def test_a_directory_in_the_files_place_is_refused(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    zed(home).mkdir(parents=True)
    line, _ = refused(capsys)
    assert "is not a regular file" in line


@pytest.mark.skipif(os.geteuid() != 0, reason="giving a file to another user needs root")
def test_a_file_of_another_user_is_refused_directly_or_through_a_link(
    home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    zed(home).parent.mkdir(parents=True)
    zed(home).write_text("{}")
    os.chown(zed(home), 65534, 65534)
    line, _ = refused(capsys)
    assert "belongs to another user" in line
    assert zed(home).read_text() == "{}"
    theirs = tmp_path / "theirs" / "settings.json"
    theirs.parent.mkdir()
    theirs.write_text("{}")
    os.chown(theirs, 65534, 65534)
    zed(home).unlink()
    zed(home).symlink_to(theirs)
    line, _ = refused(capsys)
    assert "which belongs to another user" in line
    assert theirs.read_text() == "{}"


def test_a_punie_unpacked_by_uvx_is_flagged_as_temporary() -> None:
    from punie_acp.editor_setup.launch import is_ephemeral

    assert is_ephemeral("/home/me/.cache/uv/archive-v0/AbC123/bin/punie")
    assert not is_ephemeral("/home/me/.local/share/uv/tools/punie-acp/bin/punie")
    assert not is_ephemeral("/work/checkout/.venv/bin/punie")
