"""Writing the export file: all or nothing, and never over an existing file unless asked.

The lines go to a temporary file beside the target (same directory, so the final step is a
rename on one file system), which is synced, checked, then linked into place: `os.link` fails if
the target appeared meanwhile (no clobbering, even racing another writer); with `--force`,
`os.replace` swaps it in atomically. A failure leaves the target as it was and no temporary file.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path


class OutputError(Exception):
    """The file cannot be written as asked (one line for the user)."""


def check_target(path: Path, force: bool) -> None:
    if path.is_dir():
        raise OutputError(f"{path} is a directory; name the file to write, e.g. {path / 'train.jsonl'}")
    if not path.parent.is_dir():
        raise OutputError(f"the directory {path.parent} does not exist")
    if (path.exists() or path.is_symlink()) and not force:
        raise OutputError(f"{path} exists; pass --force to replace it")


def write_atomically(path: Path, lines: Iterable[str], force: bool, check: Callable[[Path], None]) -> None:
    """Write `lines` to `path`; `check(temporary)` runs on the complete file before it is put in place."""
    check_target(path, force)
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    temporary = Path(name)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as out:
            for line in lines:
                out.write(line)
            out.flush()
            os.fsync(out.fileno())
        check(temporary)
        if force:
            os.replace(temporary, path)
        else:
            try:
                os.link(temporary, path)
            except FileExistsError:
                raise OutputError(f"{path} exists; pass --force to replace it") from None
    finally:
        with contextlib.suppress(FileNotFoundError):
            temporary.unlink()
