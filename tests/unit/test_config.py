"""Settings: the layers in order, and every bad value refused with its source named."""

from __future__ import annotations

import logging
import math
import re
from pathlib import Path
from typing import Any

import pytest

from punie_acp.config import Settings, SettingsError, load_settings
from punie_acp.core.modes import MODES
from punie_acp.settings import MODE_ORDER, PROJECT_KEYS, SPECS


@pytest.fixture
def user_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Where the user config lives for this test (written by the test when it needs one)."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    path = tmp_path / "config" / "punie" / "config.toml"
    path.parent.mkdir(parents=True)
    return path


@pytest.fixture
def root(tmp_path: Path) -> Path:
    path = tmp_path / "project"
    path.mkdir()
    return path


def project_table(root: Path, body: str) -> None:
    (root / "pyproject.toml").write_text(f"[project]\nname = 'x'\n\n[tool.punie]\n{body}\n")


def test_layers_flags_over_env_over_user_file(user_file: Path) -> None:
    user_file.write_text('model = "from-file"\nmax_tokens = 10\ntemperature = 0.5\n')
    settings = load_settings({"model": "from-flag"}, environ={"PUNIE_MAX_TOKENS": "20", "PUNIE_UNKNOWN": "x"})
    assert settings.model == "from-flag"
    assert settings.max_tokens == 20
    assert settings.temperature == 0.5
    assert settings.explicit == {"model", "max_tokens"}


def test_the_issue_case_flag_beats_project_timeout(user_file: Path, root: Path) -> None:
    project_table(root, "command_timeout = 1")
    assert load_settings({"command_timeout": 60.0}, environ={}).for_project(root).command_timeout == 60.0
    assert load_settings(environ={"PUNIE_COMMAND_TIMEOUT": "45"}).for_project(root).command_timeout == 45.0


def test_project_beats_user_file_and_defaults(user_file: Path, root: Path) -> None:
    user_file.write_text("command_timeout = 30\ntemperature = 0.5\n")
    project_table(root, "command-timeout = 5\ntemperature = 0.25\nmax_tokens = 99")
    settings = load_settings(environ={}).for_project(root)
    assert (settings.command_timeout, settings.temperature, settings.max_tokens) == (5.0, 0.25, 99)


def test_no_project_table_changes_nothing(user_file: Path, root: Path) -> None:
    base = load_settings(environ={})
    assert base.for_project(root) == base
    (root / "pyproject.toml").write_text("[tool.ruff]\nline-length = 100\n")
    assert base.for_project(root) == base


@pytest.mark.parametrize(
    ("user_mode", "project_mode", "expected"),
    [
        ("ask", "auto-edit", "ask"),  # a repository cannot grant itself auto-edit
        ("read-only", "ask", "read-only"),
        ("read-only", "auto-edit", "read-only"),
        ("ask", "read-only", "read-only"),  # stricter is fine
        ("auto-edit", "ask", "ask"),
    ],
)
def test_project_mode_only_tightens(
    user_file: Path, root: Path, user_mode: str, project_mode: str, expected: str
) -> None:
    user_file.write_text(f"mode = {user_mode!r}\n")
    project_table(root, f"mode = {project_mode!r}")
    assert load_settings(environ={}).for_project(root).mode == expected


def test_explicit_mode_is_not_overridden_by_a_project(user_file: Path, root: Path) -> None:
    project_table(root, "mode = 'read-only'")
    assert load_settings({"mode": "auto-edit"}, environ={}).for_project(root).mode == "auto-edit"


@pytest.mark.parametrize("key", ["model", "log_file", "request_limit", "project_tools", "draft_model"])
def test_project_may_not_set_server_or_trust_settings(user_file: Path, root: Path, key: str) -> None:
    value = {"request_limit": "1", "project_tools": "true"}.get(key, "'x'")
    project_table(root, f"{key} = {value}")
    with pytest.raises(SettingsError) as caught:
        load_settings(environ={}).for_project(root)
    message = str(caught.value)
    assert str(root / "pyproject.toml") in message and "[tool.punie]" in message
    assert f"{key} cannot be set by a project" in message
    assert "\n" not in message


def test_unknown_key_suggests_the_closest(user_file: Path, root: Path) -> None:
    project_table(root, "comand_timeout = 5")
    with pytest.raises(SettingsError, match=r"unknown key 'comand_timeout' \(did you mean 'command_timeout'\?\)"):
        load_settings(environ={}).for_project(root)
    user_file.write_text("max_token = 5\n")
    with pytest.raises(SettingsError, match=r"config\.toml: unknown key 'max_token' \(did you mean 'max_tokens'\?\)"):
        load_settings(environ={})


BAD_VALUES: list[tuple[str, str]] = [
    ("command_timeout", "'60'"),  # a string
    ("command_timeout", "nan"),
    ("command_timeout", "inf"),
    ("command_timeout", "-inf"),
    ("command_timeout", "0"),
    ("command_timeout", "-1"),
    ("command_timeout", "1e300"),  # select() would overflow
    ("command_timeout", "true"),
    ("command_timeout", "[1]"),
    ("command_timeout", "{a = 1}"),
    ("max_tokens", "0"),
    ("max_tokens", "1.5"),
    ("max_tokens", "true"),  # a bool is an int to Python, not to us
    ("max_tokens", "99999999999999999999"),
    ("temperature", "-0.1"),
    ("temperature", "nan"),
    ("top_p", "0"),
    ("top_p", "1.01"),
    ("mode", "'yolo'"),
    ("mode", "'ASK'"),
    ("mode", "1"),
    ("mode", "''"),
    ("command_timeout", "1979-05-27T07:32:00Z"),  # TOML has datetimes
]


@pytest.mark.parametrize(("key", "value"), BAD_VALUES)
def test_bad_project_values_name_file_and_key(user_file: Path, root: Path, key: str, value: str) -> None:
    project_table(root, f"{key} = {value}")
    with pytest.raises(SettingsError) as caught:
        load_settings(environ={}).for_project(root)
    message = str(caught.value)
    assert message.startswith(f"{root / 'pyproject.toml'} [tool.punie]: {key}: expected "), message
    assert "\n" not in message


@pytest.mark.parametrize(("key", "value"), BAD_VALUES)
def test_bad_user_file_values_name_file_and_key(user_file: Path, key: str, value: str) -> None:
    user_file.write_text(f"{key} = {value}\n")
    with pytest.raises(SettingsError, match=f"^{re.escape(str(user_file))}: {key}: expected "):
        load_settings(environ={})


@pytest.mark.parametrize(
    ("variable", "raw"),
    [
        ("PUNIE_MAX_TOKENS", "abc"),
        ("PUNIE_MAX_TOKENS", "-3"),
        ("PUNIE_COMMAND_TIMEOUT", "nan"),
        ("PUNIE_COMMAND_TIMEOUT", "inf"),
        ("PUNIE_TOP_P", "2"),
        ("PUNIE_MODE", "yolo"),
        ("PUNIE_LOG_LEVEL", "loud"),
        ("PUNIE_PROJECT_TOOLS", "maybe"),
    ],
)
def test_bad_env_values_name_the_variable(user_file: Path, variable: str, raw: str) -> None:
    with pytest.raises(SettingsError, match=f"^environment variable {variable}: expected .*, got '{raw}'$"):
        load_settings(environ={variable: raw})


def test_env_text_is_parsed(user_file: Path) -> None:
    settings = load_settings(
        environ={
            "PUNIE_LOG_LEVEL": "debug",
            "PUNIE_PROJECT_TOOLS": "yes",
            "PUNIE_TOP_P": "0.5",
            "PUNIE_DRAFT_MODEL": "",  # empty means unset
            "PUNIE_CMD": "something else's variable",
        }
    )
    assert (settings.log_level, settings.project_tools, settings.top_p, settings.draft_model) == (
        "DEBUG",
        True,
        0.5,
        None,
    )
    assert settings.explicit == {"log_level", "project_tools", "top_p"}


def test_flags_given_as_text_are_checked(user_file: Path) -> None:
    assert load_settings({"max-tokens": "12"}, environ={}).max_tokens == 12
    with pytest.raises(SettingsError, match=r"^--command-timeout: expected"):
        load_settings({"command_timeout": math.nan}, environ={})
    with pytest.raises(SettingsError, match=r"unknown setting --max-token \(did you mean 'max_tokens'\?\)"):
        load_settings({"max_token": 1}, environ={})


def test_invalid_toml_names_the_file(user_file: Path, root: Path) -> None:
    user_file.write_text("max_tokens = = 3\n")
    with pytest.raises(SettingsError, match=f"^{re.escape(str(user_file))}: not valid TOML"):
        load_settings(environ={})
    user_file.write_text("")
    (root / "pyproject.toml").write_text("[tool.punie\n")
    with pytest.raises(SettingsError, match=r"pyproject\.toml: not valid TOML"):
        load_settings(environ={}).for_project(root)


@pytest.mark.parametrize("body", ["[tool]\npunie = 3\n", "tool = { punie = 'read-only' }\n"])
def test_punie_table_must_be_a_table(user_file: Path, root: Path, body: str) -> None:
    (root / "pyproject.toml").write_text(body)
    with pytest.raises(SettingsError, match=r"\[tool.punie\] must be a table"):
        load_settings(environ={}).for_project(root)


def test_key_given_twice_is_refused(user_file: Path, root: Path) -> None:
    project_table(root, "max_tokens = 5\nmax-tokens = 6")
    with pytest.raises(SettingsError, match="max_tokens is given twice"):
        load_settings(environ={}).for_project(root)


def test_modes_match_the_core() -> None:
    assert set(MODE_ORDER) == set(MODES)
    assert set(PROJECT_KEYS) == {"max_tokens", "temperature", "top_p", "seed", "mode", "command_timeout"}


@pytest.mark.parametrize("name", sorted(SPECS))
def test_every_default_passes_its_own_check(name: str) -> None:
    default: Any = getattr(Settings(), name)
    if default is not None:
        assert SPECS[name].kind.check(default) == default


def test_a_looser_project_mode_is_logged_not_silent(
    user_file: Path, root: Path, caplog: pytest.LogCaptureFixture
) -> None:
    project_table(root, "mode = 'auto-edit'")
    with caplog.at_level(logging.WARNING, logger="punie_acp.settings"):
        assert load_settings(environ={}).for_project(root).mode == "ask"
    assert "asks for mode 'auto-edit'; keeping the user's stricter 'ask'" in caplog.text
