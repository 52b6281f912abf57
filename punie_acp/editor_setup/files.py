"""Reading and replacing an editor's settings file without surprises.

- A symbolic link (dotfile managers link settings.json into a repository) is written through,
  and the output says so, but only when it ends at a regular file of the same name owned by this
  user: a link to some unrelated file is refused, never rewritten.
- Only regular, UTF-8 files up to `MAX_BYTES` are read (a FIFO or device would hang or flood).
- The new text goes to a temporary file in the same directory with the old file's permissions,
  then `os.replace`: the file is never half written. Just before the replace the file is read
  again; if it changed since punie read it (the editor saved it meanwhile), nothing is written.
- The old bytes are kept in a backup beside it, with the same permissions (settings can hold keys).
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

MAX_BYTES = 4 << 20


class SetupRefused(Exception):
    """A settings file punie will not touch; the message is one line saying why."""


@dataclass(frozen=True)
class Target:
    path: Path  # where the editor looks
    real: Path  # where the bytes are written (differs through a symbolic link)

    @property
    def via_link(self) -> bool:
        return self.real != self.path


@dataclass(frozen=True)
class Snapshot:
    raw: bytes | None  # None: the file does not exist yet
    text: str
    mode: int | None


def locate(path: Path) -> Target:
    """Where writing `path` lands; raises `SetupRefused` for a link punie will not follow."""
    if not path.is_symlink():
        return Target(path, path)
    try:
        real = path.resolve(strict=True)
    except (OSError, RuntimeError) as exc:
        raise SetupRefused(f"{path} is a symbolic link that leads nowhere ({exc})") from None
    if real.name != path.name:
        raise SetupRefused(f"{path} is a symbolic link to {real}, not to a file named {path.name}; not following it")
    info = real.stat()
    if not stat.S_ISREG(info.st_mode):
        raise SetupRefused(f"{path} is a symbolic link to {real}, which is not a regular file")
    if info.st_uid != os.getuid():
        raise SetupRefused(f"{path} is a symbolic link to {real}, which belongs to another user")
    return Target(path, real)


def read(target: Target) -> Snapshot:
    """The file's bytes and text now; raises `SetupRefused` (one line) when it cannot be used."""
    try:
        fd = os.open(target.real, os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        return Snapshot(None, "", None)
    except OSError as exc:
        raise SetupRefused(f"cannot read {target.path}: {exc.strerror or exc}") from None
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode) or info.st_uid != os.getuid():
        os.close(fd)
        what = "is not a regular file" if not stat.S_ISREG(info.st_mode) else "belongs to another user"
        raise SetupRefused(f"{target.path} {what}")
    with os.fdopen(fd, "rb") as handle:
        raw = handle.read(MAX_BYTES + 1)
    if len(raw) > MAX_BYTES:
        raise SetupRefused(f"{target.path} is larger than {MAX_BYTES >> 20} MiB: too large to be a settings file")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SetupRefused(f"{target.path} is not UTF-8 text (byte {exc.start})") from None
    return Snapshot(raw, text, stat.S_IMODE(info.st_mode))


def replace(target: Target, before: Snapshot, text: str) -> Path | None:
    """Write `text` over the file read as `before`; returns the backup's path (None for a new file)."""
    real = target.real
    try:
        real.parent.mkdir(parents=True, exist_ok=True)
        backup = _backup(real, before)
        try:
            _swap(real, before, text.encode("utf-8"))
        except BaseException:
            if backup is not None:
                backup.unlink()  # nothing was changed: no backup of it either
            raise
    except OSError as exc:
        raise SetupRefused(f"cannot write {target.path}: {exc.strerror or exc}") from None
    return backup


def _backup(real: Path, before: Snapshot) -> Path | None:
    if before.raw is None:
        return None
    stamp = time.strftime("%Y%m%d-%H%M%S")
    for n in range(100):
        candidate = real.with_name(f"{real.name}.punie-backup-{stamp}" + (f"-{n}" if n else ""))
        try:
            fd = os.open(candidate, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, before.mode or 0o600)
        except FileExistsError:
            continue
        with os.fdopen(fd, "wb") as handle:
            handle.write(before.raw)
        return candidate
    raise FileExistsError(f"too many backups of {real.name} this second")


def _swap(real: Path, before: Snapshot, data: bytes) -> None:
    fd, tmp_name = tempfile.mkstemp(dir=real.parent, prefix=f".{real.name}.", suffix=".punie-tmp")
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fchmod(handle.fileno(), before.mode if before.mode is not None else 0o666 & ~_umask())
            os.fsync(handle.fileno())
        if read(Target(real, real)).raw != before.raw:
            raise SetupRefused(f"{real} changed while punie was merging it; nothing was written, run punie init again")
        os.replace(tmp, real)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


def _umask() -> int:
    current = os.umask(0o22)
    os.umask(current)
    return current
