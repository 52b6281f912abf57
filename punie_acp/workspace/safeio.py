"""Local file I/O on paths `Workspace.resolve` returned, without trusting them to stay put.

Between the resolver's check and the use, a file or directory can be swapped for a symlink
(by the user, a build, another process). Every function here therefore walks the resolved
path again from the root, one component at a time, with `O_NOFOLLOW` (`openat` via
`dir_fd`): a symlink met on the way is refused, never followed. Writes go to a temporary
file in the same directory and are renamed over the target (atomic; a hard link to a file
outside the project is replaced, not written through). Opening uses `O_NONBLOCK`, so a FIFO
swapped in cannot hang the agent, and anything that is not a regular file is refused.

All functions are blocking: call them through `anyio.to_thread.run_sync`.
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from punie_acp.workspace.root import PathRefused

_O_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_O_DIRECTORY = getattr(os, "O_DIRECTORY", 0)
_O_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_O_NONBLOCK = getattr(os, "O_NONBLOCK", 0)
_FOLLOW_ERRORS = (errno.ELOOP, errno.EMLINK, errno.ENOTDIR)


def _parts(root: Path, target: Path) -> tuple[str, ...]:
    try:
        parts = target.relative_to(root).parts
    except ValueError:
        raise PathRefused(f"{target} is outside the project root {root}") from None
    if any(p in ("", ".", "..") for p in parts):
        raise PathRefused(f"{target} is not a resolved path")
    return parts


def _changed(root: Path, target: Path) -> PathRefused:
    rel = target.relative_to(root).as_posix()
    return PathRefused(f"{rel!r} changed while in use (a symlink or special file appeared); not following it")


@contextlib.contextmanager
def _open_dir(root: Path, target: Path, *, create: bool = False) -> Iterator[int]:
    """A descriptor for the directory holding `target`, reached without following symlinks."""
    fd = os.open(root, os.O_RDONLY | _O_DIRECTORY | _O_CLOEXEC)
    try:
        for part in _parts(root, target)[:-1]:
            try:
                next_fd = os.open(part, os.O_RDONLY | _O_DIRECTORY | _O_NOFOLLOW | _O_CLOEXEC, dir_fd=fd)
            except FileNotFoundError:
                if not create:
                    raise
                with contextlib.suppress(FileExistsError):
                    os.mkdir(part, 0o777, dir_fd=fd)
                next_fd = os.open(part, os.O_RDONLY | _O_DIRECTORY | _O_NOFOLLOW | _O_CLOEXEC, dir_fd=fd)
            except OSError as exc:
                if exc.errno in _FOLLOW_ERRORS:
                    raise _changed(root, target) from None
                raise
            os.close(fd)
            fd = next_fd
        yield fd
    finally:
        os.close(fd)


def open_regular(root: Path, target: Path) -> BinaryIO:
    """Open a resolved regular file for reading (binary), refusing symlinks and special files."""
    if target == root:
        raise PathRefused(f"{target} is a directory")
    with _open_dir(root, target) as dir_fd:
        try:
            fd = os.open(target.name, os.O_RDONLY | _O_NOFOLLOW | _O_NONBLOCK | _O_CLOEXEC, dir_fd=dir_fd)
        except OSError as exc:
            if exc.errno in (errno.ELOOP, errno.EMLINK):
                raise _changed(root, target) from None
            raise
    mode = os.fstat(fd).st_mode
    if not stat.S_ISREG(mode):
        os.close(fd)
        if stat.S_ISDIR(mode):
            raise IsADirectoryError(errno.EISDIR, "is a directory", str(target))
        raise _changed(root, target)
    return os.fdopen(fd, "rb")


def looks_binary(head: bytes) -> bool:
    return b"\x00" in head


def read_bytes(root: Path, target: Path, max_bytes: int) -> bytes:
    """The whole file, or `PathRefused` when it is larger than `max_bytes`."""
    with open_regular(root, target) as handle:
        data = handle.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise PathRefused(f"{target.name!r} is larger than {max_bytes // 1024} KiB; it cannot be handled whole")
    return data


def iter_lines(handle: BinaryIO, max_line_bytes: int) -> Iterator[tuple[bytes, bool]]:
    """Lines (with their end) of at most `max_line_bytes`, and whether each was cut.

    A longer line is cut and the rest skipped without being held in memory, so a huge
    one-line file costs no more than a short one.
    """
    while True:
        line = handle.readline(max_line_bytes)
        if not line:
            return
        cut = False
        if not line.endswith(b"\n") and len(line) >= max_line_bytes:
            cut = True
            while True:
                rest = handle.readline(1 << 16)
                if not rest or rest.endswith(b"\n"):
                    break
        yield line, cut


def write_atomic(root: Path, target: Path, data: bytes) -> None:
    """Replace (or create) `target` with `data`, creating missing directories inside the root."""
    if target == root:
        raise PathRefused(f"{target} is the project root, not a file")
    with _open_dir(root, target, create=True) as dir_fd:
        name = target.name
        try:
            old = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
        except FileNotFoundError:
            old = None
        if old is not None and not stat.S_ISREG(old.st_mode):
            if stat.S_ISDIR(old.st_mode):
                raise IsADirectoryError(errno.EISDIR, "is a directory", str(target))
            raise _changed(root, target)
        tmp = f".{name}.punie-{secrets.token_hex(4)}.tmp"
        mode = stat.S_IMODE(old.st_mode) if old is not None else 0o666
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _O_NOFOLLOW | _O_CLOEXEC, mode, dir_fd=dir_fd)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                if old is not None:
                    os.fchmod(handle.fileno(), mode)  # undo the umask applied to the create
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp, dir_fd=dir_fd)
            raise


def make_parents(root: Path, target: Path) -> None:
    """Create the directories that will hold `target` (inside the root, no symlinks followed)."""
    with _open_dir(root, target, create=True):
        pass
