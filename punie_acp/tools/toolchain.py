"""Which programs the tools run, and with what environment.

The project's own tools come first: its virtualenv (`.venv`, `venv`, or an active
`$VIRTUAL_ENV` that is not punie's own), then `PATH`; punie's own installation is the
fallback (ruff and ty ship with punie; pytest only if installed beside it).
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

VENV_DIRS = (".venv", "venv")
_BIN = "Scripts" if os.name == "nt" else "bin"


def _is_punie_env(path: Path) -> bool:
    try:
        return path.resolve() == Path(sys.prefix).resolve()
    except OSError:
        return False


def project_venvs(root: Path) -> list[Path]:
    found = [root / name for name in VENV_DIRS if (root / name / "pyvenv.cfg").is_file()]
    active = os.environ.get("VIRTUAL_ENV")
    if active and Path(active).is_dir() and not _is_punie_env(Path(active)):
        found.append(Path(active))
    return found


def _executable(path: Path) -> bool:
    return path.is_file() and os.access(path, os.X_OK)


@dataclass(frozen=True)
class Program:
    argv: tuple[str, ...]
    origin: str  # where it was found, for the model and the user

    def describe(self, name: str) -> str:
        return f"{name} from {self.origin}"


def _origin(venv: Path, root: Path) -> str:
    try:
        return f"project {venv.relative_to(root).as_posix()}"
    except ValueError:
        return f"virtualenv {venv}"


def find_program(name: str, root: Path, *, module: str | None = None) -> Program | None:
    """`name` from the project's virtualenv, then PATH, then punie's own environment."""
    for venv in project_venvs(root):
        exe = venv / _BIN / name
        if _executable(exe):
            return Program((str(exe),), _origin(venv, root))
    on_path = shutil.which(name)
    if on_path:
        return Program((on_path,), "PATH")
    own = Path(sys.executable).parent / name
    if _executable(own):
        return Program((str(own),), "punie's environment")
    if module and importlib.util.find_spec(module) is not None:
        return Program((sys.executable, "-m", module), "punie's environment")
    return None


def find_pytest(root: Path) -> Program | None:
    """pytest run by the project's Python (so the project's packages import), else PATH or punie's."""
    for venv in project_venvs(root):
        python = venv / _BIN / "python"
        if _executable(python) and (venv / _BIN / "pytest").exists():
            return Program((str(python), "-m", "pytest"), _origin(venv, root))
    on_path = shutil.which("pytest")
    if on_path:
        return Program((on_path,), "PATH")
    if importlib.util.find_spec("pytest") is not None:
        return Program((sys.executable, "-m", "pytest"), "punie's environment")
    return None


def env_overrides(root: Path) -> dict[str, str]:
    """Variables set for commands: no pagers or prompts, the project's virtualenv first on PATH."""
    env = {"PAGER": "cat", "GIT_PAGER": "cat", "GIT_TERMINAL_PROMPT": "0"}
    venvs = project_venvs(root)
    if venvs:
        env["VIRTUAL_ENV"] = str(venvs[0])
        env["PATH"] = str(venvs[0] / _BIN) + os.pathsep + os.environ.get("PATH", "")
    return env


def local_env(root: Path) -> dict[str, str]:
    """The full environment for a local subprocess."""
    env = dict(os.environ)
    active = env.get("VIRTUAL_ENV")
    if active and _is_punie_env(Path(active)):
        del env["VIRTUAL_ENV"]  # punie's own virtualenv says nothing about the project
    env.update(env_overrides(root))
    return env
