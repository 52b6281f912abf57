"""The configuration punie gives ruff and ty: the project's safe settings only, re-written by punie.

A repository steers these programs through its config files (`extend`, `cache-dir`, `src`,
`extra-paths`, `typeshed`, `environment.python`, ...): settings that read, write or execute
outside the root. So the programs never read the project's files; punie reads them (race-safe,
inside the root, no links), keeps the settings that only change *which rules* apply and *how
code is formatted*, checks each value's shape, and writes them to a file in its own temp dir.
"""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from punie_acp.workspace.root import PathRefused
from punie_acp.workspace.safeio import read_bytes

CONFIG_MAX_BYTES = 1_000_000
RUFF_FILES = (".ruff.toml", "ruff.toml", "pyproject.toml")  # ruff's own precedence in one directory

Check = Callable[[Any], bool]

_RULE = re.compile(r"^(?:ALL|[A-Z]{1,5}[0-9]{0,4})$")
_REQUIRES = re.compile(r">=\s*(3\.[0-9]{1,2})")
_SHORT = re.compile(r"^[^\x00-\x1f\x7f]{0,500}$")  # one printable line


def _is_int(low: int, high: int) -> Check:
    return lambda v: isinstance(v, int) and not isinstance(v, bool) and low <= v <= high


def _is_bool(v: Any) -> bool:
    return isinstance(v, bool)


def _is_text(v: Any) -> bool:
    return isinstance(v, str) and bool(_SHORT.match(v))


def _is_choice(*choices: str) -> Check:
    return lambda v: v in choices


def _is_pattern(pattern: str) -> Check:
    compiled = re.compile(pattern)
    return lambda v: isinstance(v, str) and bool(compiled.match(v))


def _is_list(item: Check, most: int = 1000) -> Check:
    return lambda v: isinstance(v, list) and len(v) <= most and all(item(x) for x in v)


_RULES = _is_list(lambda v: isinstance(v, str) and bool(_RULE.match(v)))


def _is_rule_map(v: Any) -> bool:
    """`per-file-ignores`: glob -> rule codes (globs only select files; they open nothing)."""
    return isinstance(v, dict) and len(v) <= 1000 and all(_is_text(k) and _RULES(c) for k, c in v.items())


_GLOBS = _is_list(_is_text)
_NAMES = _is_list(_is_pattern(r"^[A-Za-z_][A-Za-z0-9_.]{0,200}$"))

# Settings that only choose rules, formatting and which files under the root are skipped.
_RUFF_TOP: dict[str, Check] = {
    "line-length": _is_int(1, 320),
    "indent-width": _is_int(1, 16),
    "target-version": _is_pattern(r"^py3[0-9]{1,2}$"),
    "preview": _is_bool,
    "exclude": _GLOBS,
    "extend-exclude": _GLOBS,
    "respect-gitignore": _is_bool,
    "builtins": _NAMES,
}
_RUFF_LINT: dict[str, Check] = {
    **{key: _RULES for key in ("select", "extend-select", "ignore", "extend-ignore", "fixable", "unfixable")},
    **{key: _RULES for key in ("extend-fixable", "extend-safe-fixes", "extend-unsafe-fixes")},
    "per-file-ignores": _is_rule_map,
    "extend-per-file-ignores": _is_rule_map,
    "preview": _is_bool,
    "dummy-variable-rgx": _is_text,
    "task-tags": _GLOBS,
    "exclude": _GLOBS,
}
# Plugin tables whose scalar options are all rule tuning (no paths among them).
_RUFF_PLUGINS = frozenset(
    {"isort", "pydocstyle", "mccabe", "pycodestyle", "flake8-quotes", "flake8-annotations", "flake8-bugbear"}
    | {"pep8-naming", "pylint", "pyupgrade", "flake8-builtins", "flake8-comprehensions", "flake8-pytest-style"}
)
_RUFF_FORMAT: dict[str, Check] = {
    "quote-style": _is_choice("double", "single", "preserve"),
    "indent-style": _is_choice("space", "tab"),
    "line-ending": _is_choice("auto", "lf", "cr-lf", "native"),
    "skip-magic-trailing-comma": _is_bool,
    "docstring-code-format": _is_bool,
    "docstring-code-line-length": lambda v: v == "dynamic" or _is_int(1, 320)(v),
    "preview": _is_bool,
    "exclude": _GLOBS,
}
_LEGACY_LINT = frozenset(_RUFF_LINT) - {"exclude"}  # once top-level, now under [lint]


def _plugin_value(v: Any) -> bool:
    simple = _is_bool(v) or _is_int(0, 10_000)(v) or _is_text(v)
    return simple or _is_list(_is_text, 200)(v)


def _pick(table: Any, allowed: Mapping[str, Check]) -> dict[str, Any]:
    if not isinstance(table, dict):
        return {}
    return {key: value for key, value in table.items() if key in allowed and allowed[key](value)}


def read_toml(root: Path, path: Path) -> dict[str, Any] | None:
    """A config file inside the root, read without following links; None when absent or unusable."""
    try:
        data = read_bytes(root, path, CONFIG_MAX_BYTES)
        return tomllib.loads(data.decode("utf-8"))
    except (OSError, PathRefused, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return None


def project_ruff_settings(root: Path) -> dict[str, Any]:
    """The safe part of the root's ruff configuration (the file ruff itself would pick there)."""
    pyproject = read_toml(root, root / "pyproject.toml") or {}
    settings: dict[str, Any] = {}
    for name in RUFF_FILES:
        data = pyproject if name == "pyproject.toml" else read_toml(root, root / name)
        if name == "pyproject.toml":
            tool = pyproject.get("tool")
            data = tool.get("ruff") if isinstance(tool, dict) else None
        if isinstance(data, dict):
            settings = safe_ruff_settings(data)
            break
    version = requires_python(pyproject)
    if "target-version" not in settings and version:
        settings["target-version"] = "py" + version.replace(".", "")  # what ruff infers beside its config
    return settings


def requires_python(pyproject: Mapping[str, Any]) -> str | None:
    """The lowest `3.X` of `project.requires-python`, when it says `>=3.X`."""
    project = pyproject.get("project")
    requires = project.get("requires-python") if isinstance(project, dict) else None
    found = _REQUIRES.search(requires) if isinstance(requires, str) else None
    return found.group(1) if found else None


def safe_ruff_settings(data: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = _pick(data, _RUFF_TOP)
    lint = {**_pick(data, {k: _RUFF_LINT[k] for k in _LEGACY_LINT}), **_pick(data.get("lint"), _RUFF_LINT)}
    raw_lint = data.get("lint")
    if isinstance(raw_lint, dict):
        for plugin in _RUFF_PLUGINS:
            table = raw_lint.get(plugin)
            if isinstance(table, dict):
                picked = {k: v for k, v in table.items() if isinstance(k, str) and _plugin_value(v)}
                if picked:
                    lint[plugin] = picked
    if lint:
        out["lint"] = lint
    fmt = _pick(data.get("format"), _RUFF_FORMAT)
    if fmt:
        out["format"] = fmt
    return out


_TY_RULE = re.compile(r"^(?:all|[a-z][a-z0-9-]{0,80})$")
_TY_SEVERITY = frozenset({"ignore", "warn", "error"})
_PY_VERSION = re.compile(r"^3\.[0-9]{1,2}$")


def project_ty_settings(root: Path) -> dict[str, Any]:
    """Rule severities and the Python version/platform from the root's ty.toml or pyproject.toml."""
    pyproject = read_toml(root, root / "pyproject.toml") or {}
    own = read_toml(root, root / "ty.toml")
    if own is None:
        tool = pyproject.get("tool")
        own = tool.get("ty") if isinstance(tool, dict) else None
    own = own if isinstance(own, dict) else {}
    out: dict[str, Any] = {}
    rules = own.get("rules")
    if isinstance(rules, dict):
        picked = {k: v for k, v in rules.items() if _TY_RULE.match(k) and v in _TY_SEVERITY}
        if picked:
            out["rules"] = picked
    env = own.get("environment")
    env = env if isinstance(env, dict) else {}
    version = env.get("python-version")
    if not (isinstance(version, str) and _PY_VERSION.match(version)):
        version = requires_python(pyproject)
    platform = env.get("python-platform")
    environment: dict[str, Any] = {}
    if version:
        environment["python-version"] = version
    if isinstance(platform, str) and re.match(r"^(?:all|[a-z][a-z0-9_]{0,30})$", platform):
        environment["python-platform"] = platform
    if environment:
        out["environment"] = environment
    return out


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        # A TOML basic string: JSON's escapes for '"', '\\' and control characters are TOML's too.
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_toml_value(k)} = {_toml_value(v)}" for k, v in value.items()) + "}"
    raise TypeError(f"cannot write {type(value).__name__} as TOML")


def to_toml(settings: Mapping[str, Any], prefix: str = "") -> str:
    """Nested tables of plain values as TOML (keys quoted, so any key stays one key)."""
    lines: list[str] = []
    tables: list[tuple[str, Mapping[str, Any]]] = []
    for key, value in settings.items():
        name = f"{prefix}.{_toml_value(key)}" if prefix else _toml_value(key)
        if isinstance(value, dict) and not key.endswith("ignores"):  # per-file-ignores stays inline
            tables.append((name, value))
        else:
            lines.append(f"{_toml_value(key)} = {_toml_value(value)}")
    text = "\n".join(lines) + ("\n" if lines else "")
    for name, table in tables:
        text += f"\n[{name}]\n" + to_toml(table, name)
    return text
