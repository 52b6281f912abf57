"""Where the project's git repository lives, found by hand and checked before git runs.

Git's own discovery obeys files the repository controls: a `.git` that is a file ("gitfile") or a
symlink naming another directory, `commondir`, `core.worktree`, `objects/info/alternates`, and
symlinks anywhere inside `.git`. Each of them can point a read-only git command at another
repository on the machine, whose files and history it then prints. So the read-only git tools
never let git discover anything: this module finds the repository the way git would (the nearest
`.git` walking up from the root, not across file systems), then refuses it unless everything git
will read lies in the *zone*:

- the project root itself, when the `.git` is in the root (a gitfile must point inside the root);
- the checkout the root is a folder of, when the `.git` is above the root (the user opened a
  folder of a repository; the tools still show only the root's files).

Bare layouts (a root that is itself a git directory) are never used: a repository needs a `.git`.
`core.worktree` is never read: the working tree is the folder that holds `.git`.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

MAX_POINTER = 4096  # a gitfile or commondir file is one short line
MAX_ALTERNATES = 65_536  # bytes of one objects/info/alternates
MAX_ALTERNATE_DEPTH = 16
MAX_ENTRIES = 200_000  # folders walked in a git directory before giving up


class GitRefused(Exception):
    """The git tools will not run here; the message says why, for the model and the user."""


@dataclass(frozen=True)
class GitLayout:
    top: Path  # the working tree
    git_dir: Path  # HEAD and the index (a linked worktree's own directory)
    common_dir: Path  # refs, packed-refs, objects, info, shallow, config
    zone: Path  # everything above lies inside it

    def links(self) -> dict[str, Path]:
        """The parts of the repository git may read, by the name git looks for them under."""
        parts = {name: self.common_dir / name for name in ("refs", "packed-refs", "objects", "info", "shallow")}
        parts["HEAD"] = self.git_dir / "HEAD"
        parts["index"] = self.git_dir / "index"
        for entry in _scandir(self.git_dir):
            if entry.name.startswith("sharedindex."):  # a split index keeps its base beside it
                parts[entry.name] = self.git_dir / entry.name
        return {name: path for name, path in parts.items() if os.path.lexists(path)}


def find_layout(root: Path) -> GitLayout:
    """The repository holding `root`, checked; `GitRefused` when it is missing or reaches outside."""
    here = root
    device = os.stat(root).st_dev
    while True:
        dotgit = here / ".git"
        try:
            mode = os.lstat(dotgit).st_mode
        except FileNotFoundError:
            mode = None
        except OSError as exc:
            raise GitRefused(f"cannot read {dotgit}: {exc.strerror}") from exc
        if mode is not None:
            zone = Zone(here, "the project root" if here == root else f"the checkout {here} that holds the project")
            return _checked(here, zone, _git_dir(dotgit, mode, zone))
        parent = here.parent
        if parent == here or os.stat(parent).st_dev != device:  # git stops at a file-system boundary too
            raise GitRefused("the project is not in a git repository")
        here = parent


@dataclass(frozen=True)
class Zone:
    path: Path
    name: str

    def has(self, path: Path) -> bool:
        return path == self.path or self.path in path.parents

    def refuse(self, what: str) -> GitRefused:
        return GitRefused(
            f"{what} outside {self.name}; the git tools only read a repository whose git directory, objects "
            "and working tree all lie inside it (run git yourself on this one)"
        )


def _real(path: Path) -> Path:
    return Path(os.path.realpath(path))


def read_small(path: Path, what: str, limit: int = MAX_POINTER) -> bytes:
    """A short regular file (never a FIFO or device: opening one would block or have effects)."""
    flags = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(os.path.realpath(path), flags)
    except OSError as exc:
        raise GitRefused(f"cannot read {what}: {exc.strerror}") from exc
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise GitRefused(f"{what} is not a regular file")
        data = os.read(fd, limit + 1)
    finally:
        os.close(fd)
    if len(data) > limit:
        raise GitRefused(f"{what} is larger than {limit} bytes")
    return data


def _read_pointer(path: Path, what: str) -> str:
    """The one line of a gitfile or commondir file (git strips the line end)."""
    data = read_small(path, what)
    if b"\0" in data:
        raise GitRefused(f"{what} is not a git pointer file")
    return os.fsdecode(data).rstrip("\r\n")


def _git_dir(dotgit: Path, mode: int, zone: Zone) -> Path:
    if stat.S_ISREG(mode):
        line = _read_pointer(dotgit, f"{dotgit} (a gitfile)")
        if not line.startswith("gitdir: ") or len(line) == len("gitdir: "):
            raise GitRefused(f"{dotgit} is a file but not a gitfile ('gitdir: <path>')")
        target = _real(dotgit.parent / line.removeprefix("gitdir: "))
        how = "is a gitfile pointing"
    elif stat.S_ISLNK(mode):
        target = _real(dotgit)
        how = "is a symlink pointing"
    elif stat.S_ISDIR(mode):
        target = _real(dotgit)
        how = "lies"
    else:
        raise GitRefused(f"{dotgit} is neither a folder nor a gitfile")
    if not zone.has(target):
        raise zone.refuse(f"{dotgit} {how}")
    if not target.is_dir():
        raise GitRefused(f"{dotgit} does not lead to a git directory")
    return target


def _common_dir(git_dir: Path, zone: Zone) -> Path:
    pointer = git_dir / "commondir"
    if not os.path.lexists(pointer):
        return git_dir
    if not zone.has(_real(pointer)):
        raise zone.refuse(f"{pointer} is a symlink pointing")
    common = _real(git_dir / _read_pointer(pointer, str(pointer)))
    if not zone.has(common):
        raise zone.refuse(f"{pointer} (the common git directory of a linked worktree) points")
    return common


def _checked(top: Path, zone: Zone, git_dir: Path) -> GitLayout:
    layout = GitLayout(top=_real(top), git_dir=git_dir, common_dir=_common_dir(git_dir, zone), zone=zone.path)
    parts = (layout.git_dir / "HEAD", layout.common_dir / "objects", layout.common_dir / "refs")
    if not all(os.path.lexists(part) for part in parts):
        raise GitRefused(f"{git_dir} is not a complete git directory (HEAD, objects or refs missing)")
    seen: set[tuple[int, int]] = set()
    for path in [*layout.links().values(), layout.common_dir / "config"]:
        _check_tree(path, zone, seen)
    _check_alternates(layout.common_dir / "objects", zone, seen, depth=0)
    return layout


def _scandir(path: Path) -> Iterator[os.DirEntry[str]]:
    try:
        with os.scandir(path) as entries:
            yield from entries
    except (FileNotFoundError, NotADirectoryError):
        return
    except OSError as exc:
        raise GitRefused(f"cannot read {path}: {exc.strerror}") from exc


def _check_tree(path: Path, zone: Zone, seen: set[tuple[int, int]]) -> None:
    """Refuse any symlink under `path` (or `path` itself) whose target lies outside the zone."""
    stack = [path]
    links: set[Path] = set()
    while stack:
        current = stack.pop()
        info = _lstat(current)
        if info is None:
            continue
        if stat.S_ISLNK(info.st_mode):
            target = _real(current)
            if not zone.has(target):
                raise zone.refuse(f"{current} is a symlink pointing")
            if current not in links:  # a symlink loop resolves to itself
                links.add(current)
                stack.append(target)
        elif not stat.S_ISDIR(info.st_mode):
            if not stat.S_ISREG(info.st_mode):
                raise GitRefused(f"{current} is not a regular file (a FIFO or device in .git); git would block on it")
        elif (info.st_dev, info.st_ino) not in seen:
            seen.add((info.st_dev, info.st_ino))
            if len(seen) > MAX_ENTRIES:
                raise GitRefused(f"{path} has too many folders to check")
            stack.extend(
                Path(entry.path)
                for entry in _scandir(current)
                if entry.is_symlink() or not entry.is_file(follow_symlinks=False)
            )


def _lstat(path: Path) -> os.stat_result | None:
    try:
        return os.lstat(path)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise GitRefused(f"cannot read {path}: {exc.strerror}") from exc


def _check_alternates(objects: Path, zone: Zone, seen: set[tuple[int, int]], depth: int) -> None:
    """Object stores borrowed through `objects/info/alternates` must lie in the zone too."""
    listing = objects / "info" / "alternates"
    if not os.path.lexists(listing):
        return
    if depth > MAX_ALTERNATE_DEPTH:  # git itself stops at depth 5; a chain this long (or a loop) is refused
        raise GitRefused(f"{listing} continues a chain of borrowed object stores that is too long to check")
    lines = read_small(listing, str(listing), MAX_ALTERNATES).decode("utf-8", "surrogateescape").splitlines()
    for line in lines:
        if not line or line.startswith("#"):
            continue
        store = _real(objects / (unquote_c(line) if line.startswith('"') else line))
        if not zone.has(store):
            raise zone.refuse(f"{listing} borrows objects from a store")
        _check_tree(store, zone, seen)
        _check_alternates(store, zone, seen, depth + 1)


_ESCAPES = {"a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v", "\\": "\\", '"': '"'}


def unquote_c(text: str) -> str:
    """A path git wrote C-style quoted ("a\\tb\\303\\251"); `GitRefused` when it is malformed."""
    out = bytearray()
    i = 1
    while i < len(text):
        ch = text[i]
        if ch == '"':
            if text[i + 1 :].strip():
                break
            return out.decode("utf-8", "surrogateescape")
        if ch != "\\":
            out += ch.encode("utf-8", "surrogateescape")
            i += 1
            continue
        code = text[i + 1 : i + 4]
        if len(code) == 3 and all(c in "01234567" for c in code):
            out.append(int(code, 8) & 0xFF)
            i += 4
        elif text[i + 1 : i + 2] in _ESCAPES:
            out += _ESCAPES[text[i + 1]].encode()
            i += 2
        else:
            break
    raise GitRefused(f"cannot read the quoted path {text[:80]!r} in objects/info/alternates")
