"""Walking the project tree the way git sees it: .gitignore respected, VCS folders skipped."""

from __future__ import annotations

import fnmatch
import os
from collections.abc import Iterator
from pathlib import Path

import pathspec

from punie_acp.tools.workspace import Workspace

ALWAYS_SKIPPED = frozenset({".git", ".hg", ".svn", "__pycache__", ".mypy_cache", ".ruff_cache", ".pytest_cache"})


def load_ignore(root: Path) -> pathspec.PathSpec:
    lines: list[str] = []
    for name in (".gitignore", ".git/info/exclude"):
        try:
            lines.extend((root / name).read_text(encoding="utf-8", errors="replace").splitlines())
        except OSError:
            continue
    return pathspec.PathSpec.from_lines("gitwildmatch", lines)


def walk_files(workspace: Workspace, base: Path) -> Iterator[Path]:
    """Every non-ignored regular file under `base`, sorted per directory, never leaving the root."""
    ignore = load_ignore(workspace.root)
    for dirpath, dirnames, filenames in os.walk(base, followlinks=False):
        current = Path(dirpath)
        rel_dir = current.relative_to(workspace.root).as_posix()
        prefix = "" if rel_dir == "." else rel_dir + "/"
        dirnames[:] = sorted(
            d for d in dirnames if d not in ALWAYS_SKIPPED and not ignore.match_file(prefix + d + "/")
        )
        for name in sorted(filenames):
            rel = prefix + name
            if ignore.match_file(rel):
                continue
            path = current / name
            if path.is_symlink() and not workspace.contains(Path(os.path.realpath(path))):
                continue
            yield path


def list_tree(workspace: Workspace, base: Path, pattern: str | None, max_entries: int) -> list[str]:
    out: list[str] = []
    for path in walk_files(workspace, base):
        rel = workspace.relative(path)
        if pattern and not (fnmatch.fnmatch(rel, pattern) or fnmatch.fnmatch(path.name, pattern)):
            continue
        out.append(rel)
        if len(out) >= max_entries:
            break
    return out
