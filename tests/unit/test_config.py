from __future__ import annotations

from pathlib import Path

import pytest

from punie_acp.config import Settings, load_settings


def test_layers_flags_over_env_over_user_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "punie").mkdir()
    (tmp_path / "punie" / "config.toml").write_text('model = "from-file"\nmax_tokens = 10\ntemperature = 0.5\n')
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    settings = load_settings({"model": "from-flag"}, environ={"PUNIE_MAX_TOKENS": "20", "PUNIE_UNKNOWN": "x"})
    assert settings.model == "from-flag"
    assert settings.max_tokens == 20
    assert settings.temperature == 0.5


def test_bad_env_value_is_a_clear_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    with pytest.raises(ValueError, match="max_tokens"):
        load_settings(environ={"PUNIE_MAX_TOKENS": "lots"})


def test_project_table_sits_under_explicit_settings(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("[tool.punie]\nmax_tokens = 99\nmode = 'read-only'\n")
    base = Settings(max_tokens=5)
    assert base.for_project(tmp_path).max_tokens == 99
    assert base.for_project(tmp_path, explicit={"max_tokens": 7}).max_tokens == 7
    assert base.for_project(tmp_path / "nowhere") == base
