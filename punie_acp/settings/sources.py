"""Reading one layer of settings: the user file, the environment, flags, a project's `[tool.punie]`.

Each reader returns only the names its source set, every value already checked. Anything wrong is
a `SettingsError` whose one line names the source (file and key, or variable, or flag).
"""

from __future__ import annotations

import difflib
import tomllib
from collections.abc import Collection, Mapping
from pathlib import Path
from typing import Any

from punie_acp.settings.kinds import shown
from punie_acp.settings.schema import PROJECT_KEYS, SPECS, Spec

ENV_PREFIX = "PUNIE_"
PROJECT_FILE = "pyproject.toml"
MAX_PROJECT_FILE_BYTES = 1024 * 1024


class SettingsError(ValueError):
    """A setting that cannot be used; the message (one line) says where and what to fix."""


def _checked(spec: Spec, value: object, where: str) -> Any:
    try:
        return spec.kind.check(value)
    except ValueError as exc:
        raise SettingsError(f"{where}: {exc}") from None


def _suggestion(key: str, names: Collection[str]) -> str:
    close = difflib.get_close_matches(key, list(names), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def check_table(table: Mapping[str, object], where: str, allowed: Collection[str] | None = None) -> dict[str, Any]:
    """The checked values of one TOML table; `allowed` limits the keys (a project's table)."""
    out: dict[str, Any] = {}
    for raw_key, value in table.items():
        key = raw_key.replace("-", "_")  # `command-timeout` reads like the rest of pyproject.toml
        spec = SPECS.get(key)
        if spec is None:
            raise SettingsError(f"{where}: unknown key {shown(raw_key)}{_suggestion(key, allowed or SPECS)}")
        if allowed is not None and key not in allowed:
            raise SettingsError(
                f"{where}: {key} cannot be set by a project (it is the user's: use --{key.replace('_', '-')}, "
                f"{ENV_PREFIX}{key.upper()} or the user config file); a project may set {', '.join(allowed)}"
            )
        if key in out:
            raise SettingsError(f"{where}: {key} is given twice")
        out[key] = _checked(spec, value, f"{where}: {key}")
    return out


def _parse_toml(text: str, path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise SettingsError(f"{path}: not valid TOML ({exc})") from None
    except RecursionError:  # tomllib recurses per nested array or inline table
        raise SettingsError(f"{path}: nested too deeply to read") from None


def read_user_file(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError) as exc:
        raise SettingsError(f"{path}: cannot be read ({exc})") from None
    return check_table(_parse_toml(text, path), str(path))


def read_env(environ: Mapping[str, str]) -> dict[str, Any]:
    """`PUNIE_<NAME>` for known names; other `PUNIE_*` variables belong to other programs."""
    out: dict[str, Any] = {}
    for name, spec in SPECS.items():
        variable = ENV_PREFIX + name.upper()
        raw = environ.get(variable)
        if raw is None or raw == "":  # set but empty means unset, as for most tools
            continue
        try:
            out[name] = spec.kind.parse(raw)
        except ValueError as exc:
            raise SettingsError(f"environment variable {variable}: {exc}") from None
    return out


def read_flags(flags: Mapping[str, object]) -> dict[str, Any]:
    """Values given on the command line (argparse already parsed them) or by a caller."""
    out: dict[str, Any] = {}
    for raw_key, value in flags.items():
        key = raw_key.replace("-", "_")
        spec = SPECS.get(key)
        flag = "--" + key.replace("_", "-")
        if spec is None:
            raise SettingsError(f"unknown setting {flag}{_suggestion(key, SPECS)}")
        if value is None:
            continue
        try:
            out[key] = spec.kind.parse(value) if isinstance(value, str) else spec.kind.check(value)
        except ValueError as exc:
            raise SettingsError(f"{flag}: {exc}") from None
    return out


def read_project_table(root: Path) -> dict[str, Any]:
    """The checked `[tool.punie]` of `root/pyproject.toml`; {} when there is none.

    The file is read like any other file of the (untrusted) project: through the workspace
    resolver and `O_NOFOLLOW` I/O, so a symlink out of the root, a FIFO or a device is refused
    rather than followed or waited on, and its size is capped.
    """
    from punie_acp.workspace.root import PathRefused, Workspace
    from punie_acp.workspace.safeio import read_bytes

    workspace = Workspace(root)
    path = workspace.root / PROJECT_FILE
    try:
        data = read_bytes(workspace.root, workspace.resolve(PROJECT_FILE), MAX_PROJECT_FILE_BYTES)
        text = data.decode("utf-8")
    except FileNotFoundError:
        return {}
    except (PathRefused, OSError, UnicodeDecodeError) as exc:
        raise SettingsError(f"{path}: cannot be read for [tool.punie] ({exc})") from None
    tool = _parse_toml(text, path).get("tool")
    table = tool.get("punie") if isinstance(tool, dict) else None
    if table is None:
        return {}
    if not isinstance(table, dict):
        raise SettingsError(f"{path}: [tool.punie] must be a table, got {shown(table)}")
    return check_table(table, f"{path} [tool.punie]", PROJECT_KEYS)
