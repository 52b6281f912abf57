"""Which programs the tools run, and with what environment.

The never-asking checkers (ruff, ty) run punie's own pinned binaries, with a minimal
environment; the project's binaries only when the user set `project_tools`. pytest (which
asks, since it runs project code) prefers the project's virtualenv (`.venv`, `venv`, or an
active `$VIRTUAL_ENV` that is not punie's own), then `PATH`, then punie's installation.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import stat
import sys
import time
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


# With `project_tools` on, the project's binary must be a native executable (not a script that
# runs something else) that no one changed since punie started: an edit (even in auto-edit mode,
# which keeps the execute bit, and even one that writes a native program as text) replaces the
# file and so renews its ctime, which no one can set back.
STARTED_NS = time.time_ns()
_NATIVE_MAGIC = (b"\x7fELF", b"\xcf\xfa\xed\xfe", b"\xce\xfa\xed\xfe", b"\xca\xfe\xba\xbe", b"MZ")


def pinned_program(name: str) -> Program | None:
    """punie's own ruff or ty: the binary its installed package ships (never a PATH lookup)."""
    try:
        if name == "ruff":
            from ruff import find_ruff_bin

            found = find_ruff_bin()
        elif name == "ty":
            from ty import find_ty_bin

            found = find_ty_bin()
        else:
            raise ValueError(f"no pinned program called {name!r}")
    except (ImportError, FileNotFoundError):
        return None
    path = Path(found)
    return Program((str(path),), f"punie's {name}") if _executable(path) else None


def project_program(name: str, root: Path) -> Program | None:
    """The project's `.venv/bin/NAME` (or `venv/`): a native binary in the root, no links, unchanged since start."""
    for venv in VENV_DIRS:
        exe = root / venv / _BIN / name
        try:
            info = os.lstat(exe)
            parents_linked = any(os.path.islink(p) for p in (root / venv, root / venv / _BIN))
            if parents_linked or not stat.S_ISREG(info.st_mode) or not os.access(exe, os.X_OK):
                continue
            with exe.open("rb") as handle:
                head = handle.read(4)
        except OSError:
            continue
        if head.startswith(_NATIVE_MAGIC) and info.st_ctime_ns < STARTED_NS:
            return Program((str(exe),), f"project {venv}")
    return None


def checker_program(name: str, root: Path, *, project_tools: bool) -> Program | None:
    """What a never-asking checker runs: punie's pinned binary unless the user chose the project's."""
    if project_tools:
        own = project_program(name, root)
        if own is not None:
            return own
    return pinned_program(name)


# What a checker inherits from the server's environment; everything else (RUFF_*, TY_*,
# VIRTUAL_ENV, CONDA_PREFIX, PYTHONPATH, XDG_CONFIG_HOME, ...) could steer it.
_CHECKER_ENV_KEPT = ("LANG", "LC_ALL", "LC_CTYPE", "TMPDIR", "SYSTEMROOT")


def checker_env(config_home: Path) -> dict[str, str]:
    """A minimal environment for ruff/ty; user-level config is looked up in punie's empty `config_home`."""
    env = {key: os.environ[key] for key in _CHECKER_ENV_KEPT if key in os.environ}
    env["PATH"] = os.defpath  # the checkers start no programs; nothing the project or editor put first
    env["HOME"] = env["XDG_CONFIG_HOME"] = str(config_home)
    env["NO_COLOR"] = "1"
    return env


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
