"""What ruff and ty may open: the files punie's resolver allows, and nothing a link leads to outside.

Both programs follow symlinks (ruff the files it is given, ty every module it resolves), so punie
chooses the files itself (a walk that keeps links only when they stay inside the root) and, for
ty, refuses to run while a link that module resolution could reach leaves the root.
"""

from __future__ import annotations

import os
import stat
import sys
from pathlib import Path

from punie_acp.workspace.listing import ALWAYS_SKIPPED, IgnoreRules, walk_files

PYTHON_SUFFIXES = (".py", ".pyi", ".ipynb")
MAX_FILES = 10_000  # argv stays far below the system's limit
# Trees that are environments or vendored packages, never the project's own code.
SKIPPED_TREES = frozenset({".venv", "venv", ".tox", ".nox", "node_modules", "__pypackages__", ".direnv", ".eggs"})
MAX_SCANNED = 300_000  # directory entries looked at for links before ty may run
_MODULE_SUFFIXES = (".py", ".pyi")


class TooManyFiles(ValueError):
    pass


def python_files(root: Path, target: Path) -> list[Path]:
    """The Python files under `target` (a resolved path in the root), as punie's listing sees them."""
    if target.is_file():
        return [target]
    base = target.relative_to(root).as_posix()
    files: list[Path] = []
    for rel, _info in walk_files(root, IgnoreRules(root), "" if base == "." else base):
        parts = rel.split("/")
        if not rel.endswith(PYTHON_SUFFIXES) or any(part in SKIPPED_TREES for part in parts[:-1]):
            continue
        path = root / rel
        if not _inside(root, path):
            continue  # walk_files keeps links inside the root only; checked again here
        files.append(path)
        if len(files) > MAX_FILES:
            raise TooManyFiles(f"more than {MAX_FILES} Python files under {base}; check a narrower path")
    return files


def _inside(root: Path, path: Path) -> bool:
    real = Path(os.path.realpath(path))
    return real == root or root in real.parents


def _importable_dir(name: str) -> bool:
    """A directory an import can descend into (any non-ASCII name counts, to be safe with normalisation)."""
    if name in ALWAYS_SKIPPED:
        return False
    return not name.isascii() or name.removesuffix("-stubs").isidentifier()


def escaping_links(root: Path, search_root: Path) -> list[Path]:
    """Links under `search_root` that an import could reach and that lead outside `root`.

    A link that stays inside the root is followed to where it points (an import would go there
    too, even into a directory no import could name). Raises TooManyFiles past MAX_SCANNED entries.
    """
    found: list[Path] = []
    pending = [search_root]
    visited: set[str] = set()
    scanned = 0
    while pending:
        start = pending.pop()
        real = os.path.realpath(start)
        if real in visited:
            continue
        visited.add(real)
        for dirpath, dirnames, filenames in os.walk(start, followlinks=False):
            current = Path(dirpath)
            scanned += len(dirnames) + len(filenames)
            if scanned > MAX_SCANNED:
                raise TooManyFiles(f"more than {MAX_SCANNED} entries to verify for links leaving the root")
            dirnames[:] = _sort_dirs(root, current, dirnames, pending, found)
            for name in filenames:
                path = current / name
                if name.endswith(_MODULE_SUFFIXES) and os.path.islink(path) and not _inside(root, path):
                    found.append(path)
    return found


def _sort_dirs(root: Path, current: Path, dirnames: list[str], pending: list[Path], found: list[Path]) -> list[str]:
    """The directories to walk into; in-root links go to `pending`, links leaving the root to `found`."""
    keep = []
    for name in dirnames:
        path = current / name
        if not _importable_dir(name):
            continue
        if not os.path.islink(path):
            keep.append(name)
        elif _inside(root, path):
            pending.append(path)
        else:
            found.append(path)
    return keep


def project_site_packages(root: Path) -> Path | None:
    """The site-packages of the root's `.venv`/`venv`, when it lies inside the root with no links on the way."""
    for venv in (".venv", "venv"):
        lib = root / venv / "lib"
        if not _real_dirs(root, lib) or not os.path.isfile(root / venv / "pyvenv.cfg"):
            continue
        try:
            versions = sorted(entry.name for entry in os.scandir(lib) if entry.name.startswith("python3"))
        except OSError:
            continue
        for version in versions:
            site = lib / version / "site-packages"
            if _real_dirs(root, site):
                return site
    return None


def _real_dirs(root: Path, path: Path) -> bool:
    """Every component from the root down to `path` is a real directory (no link)."""
    current = root
    for part in path.relative_to(root).parts:
        current = current / part
        try:
            if not stat.S_ISDIR(os.lstat(current).st_mode):
                return False
        except OSError:
            return False
    return True


def python_version_dir(site: Path | None) -> str:
    """`pythonX.Y` of the project's environment, else punie's own."""
    if site is not None:
        return site.parent.name
    return f"python{sys.version_info.major}.{sys.version_info.minor}"
