"""The project root and the one resolver that decides every path a tool touches."""

from __future__ import annotations

import os
from pathlib import Path


class PathRefused(ValueError):
    """A path the agent may not use; the message is written for the model to act on."""


class Workspace:
    def __init__(self, root: Path) -> None:
        if not root.is_absolute():
            raise ValueError(f"workspace root must be absolute: {root}")
        self.root = Path(os.path.realpath(root))

    def resolve(self, path: str | None) -> Path:
        """Absolute, symlink-free path inside the root, or `PathRefused`."""
        raw = "." if path is None or path == "" else path
        if "\x00" in raw:
            raise PathRefused("path contains a NUL byte")
        if raw.startswith("~"):
            raise PathRefused(f"{raw!r}: '~' is not expanded; use a path relative to the project root")
        candidate = Path(raw)
        if not candidate.is_absolute():
            candidate = self.root / candidate
        real = Path(os.path.realpath(candidate))
        if not self.contains(real):
            raise PathRefused(
                f"{raw!r} is outside the project root {self.root}; only paths inside it can be used"
            )
        return real

    def contains(self, path: Path) -> bool:
        return path == self.root or self.root in path.parents

    def relative(self, path: Path) -> str:
        """How a path is shown to the model: relative to the root, '/'-separated."""
        try:
            rel = path.relative_to(self.root)
        except ValueError:
            return str(path)
        return rel.as_posix() or "."
