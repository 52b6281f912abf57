"""Which language server serves a file, and how it is started without trusting the project.

By default Python files get punie's own pinned `ty server` (never the project's `.venv/bin/ty`
nor a `ty` earlier on PATH), with a minimal environment and the same punie-written `ty.toml`
the `ty_check` tool uses (the project's rule severities and Python version only; its
`extra-paths`, `typeshed`, `python` and every other setting that reaches outside the root are
not passed on), handed over as `configurationFile` so ty reads no project config file.

Other servers are the user's choice, in user-level settings only (`language_servers`, e.g.
`.py=basedpyright-langserver --stdio; .rs=rust-analyzer`): a project file cannot name a program
for punie to start. Such a server is found on PATH, and refused when that finds it inside the root.
"""

from __future__ import annotations

import os
import shlex
import shutil
import tempfile
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from punie_acp.tools.checker_config import to_toml
from punie_acp.tools.checker_scope import TooManyFiles
from punie_acp.tools.toolchain import checker_env, pinned_program
from punie_acp.tools.typecheck import _prepare as prepare_ty_project

LANGUAGE_IDS = {
    ".py": "python", ".pyi": "python", ".rs": "rust", ".ts": "typescript", ".tsx": "typescriptreact",
    ".js": "javascript", ".jsx": "javascriptreact", ".go": "go", ".c": "c", ".h": "c", ".cpp": "cpp",
    ".java": "java", ".rb": "ruby", ".lua": "lua",
}  # fmt: skip
DEFAULT_SERVERS = {".py": "ty", ".pyi": "ty"}
_USER_ENV_DROPPED = ("VIRTUAL_ENV", "CONDA_PREFIX", "PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP")


class ServerUnavailable(Exception):
    """No server can serve this file; the message says what to install or change."""


@dataclass(frozen=True)
class ServerSpec:
    key: str  # one server per root and key
    name: str  # for people: "ty", "pyright-langserver"
    command: tuple[str, ...]  # as configured; "ty" means punie's pinned ty

    @property
    def is_ty(self) -> bool:
        return self.command == ("ty",)


@dataclass
class Launch:
    argv: list[str]
    env: dict[str, str]
    settings: dict[str, Any]  # what `workspace/configuration` and initializationOptions carry
    scratch: Path | None = None
    note: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


def parse_servers(text: str | None) -> dict[str, tuple[str, ...]]:
    """`.ext=command args; .ext2=...` (the `language_servers` setting) as extension -> argv."""
    out: dict[str, tuple[str, ...]] = {}
    for part in (text or "").split(";"):
        if not part.strip():
            continue
        exts, sep, command = part.partition("=")
        argv = tuple(shlex.split(command)) if sep else ()
        if not argv:
            raise ValueError(f"language_servers: {part.strip()!r} needs the form .ext=command args")
        for ext in exts.split(","):
            ext = ext.strip()
            out[ext if ext.startswith(".") else "." + ext] = argv
    return out


def spec_for(path: Path, configured: str | None) -> ServerSpec | None:
    """The server for a file by its extension; None when no server serves it."""
    ext = path.suffix.lower()
    try:
        user = parse_servers(configured)
    except ValueError as exc:
        raise ServerUnavailable(str(exc)) from None
    command = user.get(ext) or ((DEFAULT_SERVERS[ext],) if ext in DEFAULT_SERVERS else None)
    if command is None:
        return None
    return ServerSpec(key=" ".join(command), name=os.path.basename(command[0]), command=command)


def language_id(path: Path) -> str:
    return LANGUAGE_IDS.get(path.suffix.lower(), path.suffix.lstrip(".").lower() or "plaintext")


def prepare_launch(spec: ServerSpec, root: Path) -> Launch:
    """Everything needed to start `spec` for `root` (blocking: run in a worker thread)."""
    if spec.is_ty:
        return _ty_launch(root)
    found = shutil.which(spec.command[0])
    if found is None:
        raise ServerUnavailable(
            f"{spec.command[0]!r} (your language_servers setting) was not found on PATH;"
            " install it or change the setting"
        )
    real = Path(os.path.realpath(found))
    if real == root or root in real.parents:
        raise ServerUnavailable(f"{spec.command[0]!r} resolves to {found}, inside the project; punie does not run it")
    env = {k: v for k, v in os.environ.items() if k not in _USER_ENV_DROPPED}
    return Launch([str(real), *spec.command[1:]], env, {})


def _ty_launch(root: Path) -> Launch:
    ty = pinned_program("ty")
    if ty is None:
        raise ServerUnavailable("ty is not installed in punie's environment; reinstall punie (`uv tool install punie`)")
    scratch = Path(tempfile.mkdtemp(prefix="punie-lsp-"))
    try:
        setup = prepare_ty_project(root, scratch)
    except TooManyFiles as exc:
        shutil.rmtree(scratch, ignore_errors=True)
        raise ServerUnavailable(f"ty server refused: {exc}") from None
    except OSError:
        shutil.rmtree(scratch, ignore_errors=True)
        raise
    if setup.links:
        shutil.rmtree(scratch, ignore_errors=True)
        shown = ", ".join(
            str(link.relative_to(root)) if root in link.parents else str(link) for link in setup.links[:5]
        )
        raise ServerUnavailable(
            f"ty server refused: {shown} leads outside the project root, which ty would follow; remove the link"
        )
    _point_ty_at_empty_prefix(scratch)
    home = scratch / "home"
    home.mkdir()
    settings = {"configurationFile": str(scratch / "ty.toml"), "diagnosticMode": "openFilesOnly"}
    return Launch([*ty.argv, "server"], checker_env(home), settings, scratch=scratch, note=setup.note)


def _point_ty_at_empty_prefix(scratch: Path) -> None:
    """`ty_check` passes `--python`; the server reads it from the config: the empty prefix, nothing to run."""
    config = scratch / "ty.toml"
    settings = tomllib.loads(config.read_text())
    settings.setdefault("environment", {})["python"] = str(scratch / "prefix")
    config.write_text(to_toml(settings))
