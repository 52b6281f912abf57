"""The project root and the one resolver that decides every path a tool touches.

`Workspace.resolve` is the only place a model-supplied path becomes a filesystem path. It
refuses, with a message the model can act on: NUL and control characters, `~`, backslashes
(on POSIX), Unicode look-alikes of '.' and '/' (fullwidth '．／', U+2215 '∕', …), invisible
format characters, anything that ends up outside the root once `..` and symlinks are
resolved, symlink loops, and device files (character/block devices, FIFOs, sockets). Writes
are also refused inside version-control metadata (`.git/` in any letter case).

The path it returns is absolute and symlink-free at the moment of the check. Local I/O then
goes through `punie_acp.workspace.safeio`, which walks that path again from the root with
`O_NOFOLLOW` on every component: a file or directory swapped for a symlink between check
and use is refused instead of followed.
"""

from __future__ import annotations

import os
import stat
import unicodedata
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from punie_acp.workspace.index import FileIndex


class PathRefused(ValueError):
    """A path the agent may not use; the message is written for the model to act on."""


# Characters that look like '/' or '\\' (no NFKC decomposition to them, so listed by hand).
_SLASH_LOOKALIKES = frozenset("\u2215\u2044\u29f8\u29f9\u2216\u2571\u2572")
# Characters that look like '.' but do not decompose to it.
_DOT_LOOKALIKES = frozenset("\u3002\uff61\u2e31")
# Version-control metadata: never written by the agent (hooks there run code later).
VCS_DIRS = frozenset({".git", ".hg", ".svn"})
MAX_PATH_BYTES = 4000
MAX_NAME_BYTES = 255


def char_problem(ch: str) -> str | None:
    """Why `ch` may not appear in a path the model names (None: it may); display escapes these too."""
    code = f"U+{ord(ch):04X}"
    name = unicodedata.name(ch, "unnamed character")
    category = unicodedata.category(ch)
    if ch == "\x00":
        return "contains a NUL byte"
    if category in ("Cc", "Zl", "Zp"):
        return f"contains the control character {code}"
    if category == "Cs":
        return f"contains a lone surrogate {code}"
    if category == "Cf":
        return f"contains the invisible format character {code} ({name})"
    if ch == "\\" and os.sep == "/":
        return "contains a backslash; use '/' to separate directories"
    if ch in ("/", "."):
        return None
    folded = unicodedata.normalize("NFKC", ch)
    if ch in _SLASH_LOOKALIKES or "/" in folded or "\\" in folded:
        return f"contains {ch!r} ({code} {name}), which looks like a slash; use a plain '/'"
    if ch in _DOT_LOOKALIKES or "." in folded:
        return f"contains {ch!r} ({code} {name}), which looks like a dot; use a plain '.'"
    return None


def check_text(raw: str) -> None:
    """Refuse path text that is not what it looks like (see the module docstring)."""
    if raw.startswith("~"):
        raise PathRefused(f"{raw!r}: '~' is not expanded; use a path relative to the project root")
    for ch in raw:
        if ch.isascii() and ch.isprintable() and ch != "\\":
            continue
        problem = char_problem(ch)
        if problem:
            raise PathRefused(f"{raw!a} {problem}")


class Workspace:
    def __init__(self, root: Path) -> None:
        if not root.is_absolute():
            raise ValueError(f"workspace root must be absolute: {root}")
        self.root = Path(os.path.realpath(root))
        self._index: FileIndex | None = None

    def resolve(self, path: str | None, *, for_write: bool = False) -> Path:
        """Absolute, symlink-free path inside the root, or `PathRefused`.

        The path need not exist (new files); what exists of it must be a directory or a
        regular file. `for_write` also refuses version-control metadata.
        """
        if path is not None and not isinstance(path, str):
            raise PathRefused(f"a path must be a string, got {type(path).__name__}")
        raw = "." if path is None or path.strip() == "" else path
        prefix = str(self.root) + os.sep
        # The root's own name is the user's business; only what the model adds is checked.
        check_text(raw[len(prefix) :] if raw.startswith(prefix) else raw)
        if len(raw.encode("utf-8", "surrogateescape")) > MAX_PATH_BYTES or any(
            len(part.encode("utf-8", "surrogateescape")) > MAX_NAME_BYTES for part in raw.split("/")
        ):
            raise PathRefused(f"{raw[:80]!r}… is too long for a path")
        candidate = Path(raw)
        if not candidate.is_absolute():
            candidate = self.root / candidate
        real = Path(os.path.realpath(candidate))
        if len(os.fsencode(real)) > MAX_PATH_BYTES:
            raise PathRefused(f"{raw[:80]!r}… is too long for a path")
        if not self.contains(real):
            raise PathRefused(f"{raw!r} is outside the project root {self.root}; only paths inside it can be used")
        kind = self._existing_kind(real, raw)
        if kind is not None and not (stat.S_ISDIR(kind) or stat.S_ISREG(kind)):
            raise PathRefused(f"{raw!r} is a {_kind_name(kind)}, not a regular file; it cannot be used")
        if for_write:
            parts = real.relative_to(self.root).parts
            if any(part.casefold() in VCS_DIRS for part in parts):
                raise PathRefused(f"{raw!r} is inside version-control metadata; the agent does not write there")
        return real

    def _existing_kind(self, real: Path, raw: str) -> int | None:
        """Mode of `real` if it exists; refuses a leftover symlink (realpath leaves loops unresolved)."""
        current = self.root
        mode: int | None = None
        for part in real.relative_to(self.root).parts:
            current = current / part
            try:
                mode = os.lstat(current).st_mode
            except OSError:
                return None  # the rest does not exist (yet), or is unreadable: the use will say
            if stat.S_ISLNK(mode):
                raise PathRefused(f"{raw!r} goes through a symlink loop at {self.relative(current)!r}")
        return mode

    def contains(self, path: Path) -> bool:
        return path == self.root or self.root in path.parents

    def relative(self, path: Path) -> str:
        """How a path is shown to the model: relative to the root, '/'-separated."""
        try:
            rel = path.relative_to(self.root)
        except ValueError:
            return str(path)
        return rel.as_posix() or "."

    @property
    def index(self) -> FileIndex:
        """The file index (names, sizes, mtimes), created on first use and kept fresh by a watcher."""
        if self._index is None:
            from punie_acp.workspace.index import FileIndex

            self._index = FileIndex(self.root)
        return self._index

    def close(self) -> None:
        """Stop the index watcher (the session is over); safe to call more than once."""
        if self._index is not None:
            self._index.close()

    async def aclose(self) -> None:
        if self._index is not None:
            await self._index.aclose()


def _kind_name(mode: int) -> str:
    if stat.S_ISCHR(mode):
        return "character device"
    if stat.S_ISBLK(mode):
        return "block device"
    if stat.S_ISFIFO(mode):
        return "FIFO (named pipe)"
    if stat.S_ISSOCK(mode):
        return "socket"
    return "special file"
