"""One settings object, layered: flags > env `PUNIE_*` > user config file > defaults.

The project's own `[tool.punie]` table is read per session (its root is only known then)
and layered between the environment and the user file by `Settings.for_project`.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

DEFAULT_MODEL = "mlx-community/Qwen3-Coder-30B-A3B-Instruct-4bit"


def user_config_path() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "punie" / "config.toml"


def default_log_path() -> Path:
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "punie" / "punie.log"


@dataclass(frozen=True)
class Settings:
    model: str = DEFAULT_MODEL
    # Generation
    max_tokens: int = 4096
    temperature: float = 0.0
    top_p: float = 1.0
    draft_model: str | None = None
    num_draft_tokens: int = 3
    # Prompt tokens per prefill chunk (mlx-lm's own default; fixed, so prefill costs what bare mlx-lm's does).
    prefill_step_size: int = 2048
    # Turn limits: model requests and tool calls one prompt may make.
    request_limit: int = 50
    tool_calls_limit: int = 100
    # Per-session KV caches kept in memory (least recently used evicted first).
    max_cached_sessions: int = 4
    # Workspace policy
    mode: str = "ask"
    command_timeout: float = 120.0
    # Longest JSON-RPC line accepted from the client (images in prompts can be large).
    max_message_bytes: int = 50 * 1024 * 1024
    log_file: str = field(default_factory=lambda: str(default_log_path()))
    log_level: str = "INFO"

    def merged(self, overrides: dict[str, Any]) -> Settings:
        known = {f.name: f for f in fields(self)}
        clean: dict[str, Any] = {}
        for key, value in overrides.items():
            key = key.replace("-", "_")
            if key not in known or value is None:
                continue
            clean[key] = _coerce(value, getattr(self, key), key)
        return dataclasses.replace(self, **clean)

    def for_project(self, root: Path, explicit: dict[str, Any] | None = None) -> Settings:
        """Project `[tool.punie]` sits under flags and env but above the user file."""
        project = read_project_table(root)
        if not project:
            return self
        return self.merged(project).merged(explicit or {})


def _coerce(value: Any, current: Any, key: str) -> Any:
    if isinstance(value, str) and not isinstance(current, str) and current is not None:
        try:
            if isinstance(current, bool):
                return value.strip().lower() in ("1", "true", "yes", "on")
            if isinstance(current, int):
                return int(value)
            if isinstance(current, float):
                return float(value)
        except ValueError as exc:
            raise ValueError(f"setting {key!r}: cannot read {value!r} as {type(current).__name__}") from exc
    return value


def read_project_table(root: Path) -> dict[str, Any]:
    pyproject = root / "pyproject.toml"
    try:
        data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError):
        return {}
    table = data.get("tool", {}).get("punie", {})
    return dict(table) if isinstance(table, dict) else {}


def env_overrides(environ: dict[str, str] | None = None) -> dict[str, Any]:
    environ = dict(os.environ) if environ is None else environ
    names = {f.name for f in fields(Settings)}
    out: dict[str, Any] = {}
    for key, value in environ.items():
        if key.startswith("PUNIE_"):
            name = key[len("PUNIE_") :].lower()
            if name in names:
                out[name] = value
    return out


def load_settings(flags: dict[str, Any] | None = None, environ: dict[str, str] | None = None) -> Settings:
    settings = Settings()
    path = user_config_path()
    if path.is_file():
        try:
            settings = settings.merged(tomllib.loads(path.read_text(encoding="utf-8")))
        except tomllib.TOMLDecodeError as exc:
            raise ValueError(f"{path}: not valid TOML ({exc})") from exc
    settings = settings.merged(env_overrides(environ))
    return settings.merged(flags or {})
