"""The command an editor runs to start this punie, and where each editor keeps its settings.

The command is an absolute path that works from any shell and from a desktop launcher (which has
neither this shell's PATH nor its current directory): the `punie` console script beside the
running interpreter (a checkout's `.venv/bin/punie` under `./uvw run`, `~/.local/share/uv/tools/…`
after `uv tool install`), else this interpreter with `-m punie_acp`. A model given as a relative
path is made absolute for the same reason.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from punie_acp import __version__

AGENT_NAME = "Punie"
EditorId = Literal["zed", "pycharm"]
EDITORS: tuple[EditorId, ...] = ("zed", "pycharm")
LABELS: dict[EditorId, str] = {"zed": "Zed", "pycharm": "PyCharm (JetBrains)"}


@dataclass(frozen=True)
class Launch:
    command: str
    args: tuple[str, ...]  # before "serve"


def home(env: Mapping[str, str]) -> Path:
    value = env.get("HOME")
    return Path(value) if value else Path.home()


def settings_path(editor: EditorId, env: Mapping[str, str]) -> Path:
    """Zed: $XDG_CONFIG_HOME/zed/settings.json (Linux and macOS alike); JetBrains: ~/.jetbrains/acp.json."""
    if editor == "pycharm":
        return home(env) / ".jetbrains" / "acp.json"
    xdg = env.get("XDG_CONFIG_HOME", "")
    base = Path(xdg) if os.path.isabs(xdg) else home(env) / ".config"  # the spec ignores relative values
    return base / "zed" / "settings.json"


def this_punie() -> Launch:
    """This installation's `punie`, as an absolute path."""
    scripts = Path(os.path.abspath(sys.executable)).parent  # not resolved: a venv's python is a link out
    for name in ("punie", "punie.exe"):
        script = scripts / name
        if script.is_file() and os.access(script, os.X_OK):
            return Launch(str(script), ())
    return Launch(os.path.abspath(sys.executable), ("-m", "punie_acp"))


def is_ephemeral(command: str) -> bool:
    """A punie that `uvx` unpacked into uv's cache: gone after `uv cache clean`."""
    parts = Path(command).parts
    return any(part.startswith("archive-v") for part in parts) and "uv" in parts


def uvx_launch() -> Launch:
    """`uvx --from punie-acp==<this version> punie`, with uvx's absolute path; raises `LookupError`."""
    found = shutil.which("uvx")
    if found is None:
        raise LookupError("uvx is not on PATH; install uv (https://docs.astral.sh/uv/) or leave out --uvx")
    return Launch(os.path.abspath(found), ("--from", f"punie-acp=={__version__}", "punie"))


def model_argument(model: str, cwd: Path) -> str:
    """The model as the editor must pass it: a local directory or script file made absolute."""
    if model.startswith("script:"):
        return "script:" + str((cwd / Path(model[len("script:") :]).expanduser()).absolute())
    if model == "test" or "://" in model:
        return model
    path = Path(model).expanduser()
    if model.startswith((".", "/", "~")) or (cwd / path).exists():
        return str((cwd / path).absolute())
    return model  # a Hugging Face repo id


def entry(editor: EditorId, launch: Launch, model: str, old: Any) -> dict[str, Any]:
    """The `agent_servers` entry; the user's own `env` in an existing entry is kept."""
    env = old.get("env") if isinstance(old, dict) else None
    kept = env if isinstance(env, dict) and all(isinstance(v, str) for v in env.values()) else {}
    fields: dict[str, Any] = {"type": "custom"} if editor == "zed" else {}
    fields |= {"command": launch.command, "args": [*launch.args, "serve", "--model", model], "env": kept}
    return fields
