"""Walking the project tree the way git sees it: .gitignore files (nested ones too) respected.

Git's rules, as far as a listing needs them: each directory's `.gitignore` applies to paths
below it, relative to that directory; a deeper file overrides a shallower one (negations
included); the root also reads `.git/info/exclude`; once a directory is ignored nothing
under it comes back. VCS metadata and tool caches are always skipped.

The .gitignore files belong to the (possibly hostile) repository, and pathspec compiles
them to regular expressions: `a*a*a*a*a*a*a*a*a*a*a*b` against a long name backtracks for
hours. Each pattern is therefore matched with the `regex` module under a time budget and
with the GIL released (see `workspace.patterns`); a pattern that runs out of time is dropped
(logged) and the path counts as not matched by it.
"""

from __future__ import annotations

import logging
import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import regex
from pathspec import GitIgnoreSpec

from punie_acp.workspace.patterns import LINE_SECONDS

log = logging.getLogger(__name__)

ALWAYS_SKIPPED = frozenset({".git", ".hg", ".svn", "__pycache__", ".mypy_cache", ".ruff_cache", ".pytest_cache"})
IGNORE_FILE = ".gitignore"


@dataclass(frozen=True)
class FileInfo:
    size: int
    mtime_ns: int


class IgnoreRules:
    """The .gitignore files of one tree, loaded lazily and cached per directory."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._specs: dict[str, GitIgnoreSpec | None] = {}

    def _spec(self, rel_dir: str) -> GitIgnoreSpec | None:
        if rel_dir not in self._specs:
            base = self.root / rel_dir if rel_dir else self.root
            names = [".git/info/exclude", IGNORE_FILE] if not rel_dir else [IGNORE_FILE]
            lines: list[str] = []
            for name in names:
                try:
                    lines.extend((base / name).read_text(encoding="utf-8", errors="replace").splitlines())
                except OSError:
                    continue
            self._specs[rel_dir] = (
                _bounded(GitIgnoreSpec.from_lines(lines, backend="simple"), rel_dir) if lines else None
            )
        return self._specs[rel_dir]

    def _matches(self, parts: list[str], is_dir: bool) -> bool:
        """Whether the path `parts` is ignored by the rules of its own ancestors (not checking them)."""
        ignored = False
        for depth in range(len(parts)):
            spec = self._spec("/".join(parts[:depth]))
            if spec is None:
                continue
            result = spec.check_file("/".join(parts[depth:]) + ("/" if is_dir else ""))
            if result.include is not None:
                ignored = result.include
        return ignored

    def ignored_entry(self, rel: str, is_dir: bool) -> bool:
        """One entry, its parent directories already known not to be ignored (a walk)."""
        parts = rel.split("/")
        if is_dir and parts[-1] in ALWAYS_SKIPPED:
            return True
        return self._matches(parts, is_dir)

    def ignored(self, rel: str, is_dir: bool) -> bool:
        """Any path: ignored itself or under an ignored (or always skipped) directory."""
        parts = rel.split("/")
        for depth in range(1, len(parts)):
            if parts[depth - 1] in ALWAYS_SKIPPED or self._matches(parts[:depth], True):
                return True
        return self.ignored_entry(rel, is_dir)


class _BoundedRegex:
    """Stands in for a pathspec pattern's compiled `re`: same pattern, `regex` engine, time budget."""

    def __init__(self, pattern: Any, owner: Any, where: str) -> None:
        self._compiled: Any = regex.compile(pattern.pattern)
        self.pattern = pattern.pattern
        self._owner = owner
        self._where = where

    def search(self, text: str) -> Any:
        try:
            return self._compiled.search(text, timeout=LINE_SECONDS, concurrent=True)
        except TimeoutError:
            pass
        # Too slow (catastrophic backtracking): this pattern is dropped for good.
        log.warning("ignore pattern %r in %s took too long to match; it is not applied", self.pattern, self._where)
        self._owner.include = None
        return None

    match = search


def _bounded(spec: GitIgnoreSpec, rel_dir: str) -> GitIgnoreSpec:
    where = (rel_dir + "/" if rel_dir else "") + IGNORE_FILE
    for pattern in spec.patterns:
        compiled = getattr(pattern, "regex", None)
        if compiled is not None:
            setattr(pattern, "regex", _BoundedRegex(compiled, pattern, where))  # noqa: B010 (typed as re.Pattern)
    return spec


def file_info(path: Path, root: Path) -> FileInfo | None:
    """Size and mtime of a regular file (or a symlink to one inside the root); None otherwise."""
    try:
        st = os.lstat(path)
        if stat.S_ISLNK(st.st_mode):
            real = Path(os.path.realpath(path))
            if not (real == root or root in real.parents):
                return None
            st = os.stat(real)
    except OSError:
        return None
    if not stat.S_ISREG(st.st_mode):
        return None
    return FileInfo(st.st_size, st.st_mtime_ns)


def walk_files(
    root: Path, rules: IgnoreRules, base: str = "", limit: int | None = None
) -> Iterator[tuple[str, FileInfo]]:
    """(relative path, info) of every non-ignored file under `base` (relative, '' for the root).

    Symlinked directories are not entered; symlinked files count only when they point
    inside the root. Unreadable directories are skipped.
    """
    start = root / base if base else root
    count = 0
    for dirpath, dirnames, filenames in os.walk(start, followlinks=False):
        current = Path(dirpath)
        rel_dir = current.relative_to(root).as_posix()
        prefix = "" if rel_dir == "." else rel_dir + "/"
        dirnames[:] = sorted(d for d in dirnames if not rules.ignored_entry(prefix + d, True))
        for name in sorted(filenames):
            rel = prefix + name
            if rules.ignored_entry(rel, False):
                continue
            info = file_info(current / name, root)
            if info is None:
                continue
            yield rel, info
            count += 1
            if limit is not None and count >= limit:
                return
