"""A suite's fixture project, checked once and copied afresh into a temp directory for every case.

The agent edits and runs commands in the copy, never in the suite's own directory or the user's
tree. The fixture may be hostile like any project: only directories and regular files are
copied, a symlink or special file refuses the whole fixture (it could point anywhere), and the
size is bounded.
"""

from __future__ import annotations

import os
import shutil
import stat
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

MAX_FILES = 5_000
MAX_BYTES = 50_000_000
SKIPPED = frozenset({"__pycache__", ".pytest_cache", ".ruff_cache", ".mypy_cache"})


class FixtureError(ValueError):
    """A fixture that cannot be copied; one line saying which file and why."""


@dataclass(frozen=True)
class Fixture:
    source: Path | None
    directories: tuple[str, ...] = ()
    files: tuple[str, ...] = ()
    inline: Mapping[str, str] = field(default_factory=dict)  # a suite's [files]: relative path → text

    def copy(self, overlay: Mapping[str, str]) -> Path:
        """A fresh copy in a new temp directory, with the case's own files over it (the caller
        removes it with `discard`). Inline paths were checked relative and free of `..` by the
        suite reader, and the new directory holds no symlink to write through."""
        target = Path(tempfile.mkdtemp(prefix="punie-eval-"))
        try:
            for rel in self.directories:
                (target / rel).mkdir(parents=True, exist_ok=True)
            if self.source is not None:
                for rel in self.files:
                    _copy_file(self.source / rel, target / rel)
            for rel, text in {**self.inline, **overlay}.items():
                path = target / rel
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(text, encoding="utf-8")
        except OSError as exc:
            discard(target)
            # e.g. a suite that makes `a` a file and `a/b.py` too
            raise FixtureError(f"cannot make the case's copy of the fixture: {exc}") from None
        except BaseException:
            discard(target)
            raise
        return target


def _copy_file(source: Path, target: Path) -> None:
    # O_NOFOLLOW: a file swapped for a symlink after the check is refused, not followed.
    fd = os.open(source, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0))
    with os.fdopen(fd, "rb") as handle:
        if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
            raise FixtureError(f"fixture file {source} changed into something other than a regular file")
        with target.open("wb") as out:
            shutil.copyfileobj(handle, out)
    os.chmod(target, 0o644)


def scan(source: Path | None, inline: Mapping[str, str]) -> Fixture:
    """Every directory and regular file under `source`, and the inline files; raises `FixtureError`."""
    if source is None:
        return Fixture(None, inline=inline)
    directories: list[str] = []
    files: list[str] = []
    total = 0
    for current, dirnames, filenames in os.walk(source, followlinks=False):
        dirnames[:] = sorted(d for d in dirnames if d not in SKIPPED)
        base = Path(current)
        for name in [*dirnames, *sorted(filenames)]:
            path = base / name
            rel = path.relative_to(source).as_posix()
            mode = os.lstat(path).st_mode
            if stat.S_ISDIR(mode):
                directories.append(rel)
            elif stat.S_ISREG(mode):
                files.append(rel)
                total += os.lstat(path).st_size
            else:
                problem = "is a symlink or special file; only plain files are copied"
                raise FixtureError(f"fixture {source}: {rel!r} {problem}")
        if len(files) > MAX_FILES or total > MAX_BYTES:
            raise FixtureError(f"fixture {source} is larger than {MAX_FILES} files or {MAX_BYTES // 1_000_000} MB")
    return Fixture(source, tuple(directories), tuple(files), inline)


def discard(copy: Path) -> None:
    shutil.rmtree(copy, ignore_errors=True)
