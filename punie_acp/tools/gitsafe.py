"""Git for the tools that never ask: nothing the repository chooses can run or be read from outside.

The rule is an allow-list, not a list of known dangerous keys. Git commands start programs named
in configuration (filter, diff and merge drivers, textconv, gpg programs, fsmonitor, pagers,
editors, hooks, transports of a lazy fetch, ...), and the names of the drivers are the
repository's to choose. So git here reads *no* configuration the repository, the user or the
system wrote. It runs against a private git directory made for the call:

- `HEAD` and the index copied (so nothing writes the real index), and `refs`, `packed-refs`,
  `objects`, `info`, `shallow` linked from the real repository, after `gitlayout` checked that
  all of them (symlinks, alternates, gitfiles, commondir) lie in the project (or the checkout
  the project is a folder of);
- a `config` punie writes: a handful of values copied from the repository's own config when
  they pass a strict pattern (file-mode and line-ending handling, the upstream of each branch),
  and settings that switch the command-running paths off once more;
- no hooks, no includes, no `core.worktree` (the working tree is where `.git` is), no submodule
  recursion; `GIT_CONFIG_NOSYSTEM`, `GIT_CONFIG_GLOBAL=/dev/null`, every inherited `GIT_*`
  variable dropped, no pager, no prompts, no optional locks, literal pathspecs.

Git itself is found on PATH, never through a relative PATH entry or inside the project. Index
entries are checked before git looks at the working tree: git follows a `../` in a crafted
index entry out of the working tree and prints the file it reaches.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import anyio
from anyio.abc import ByteReceiveStream
from pydantic_ai.exceptions import ToolFailed

from punie_acp.tools.children import start_supervised
from punie_acp.tools.gitlayout import GitLayout, GitRefused, find_layout, read_small
from punie_acp.tools.process import KILL_GRACE, ProcessResult, guarded, run_process

GIT_TIMEOUT = 30.0
CAPTURE_LIMIT = 4_000_000
MAX_INDEX_PATH = 65_536

# Settings written into every private config: each turns a command-running path off again.
_FIXED = {
    "core": {
        "bare": "false",
        "fsmonitor": "false",
        "untrackedCache": "false",
        "hooksPath": os.devnull,
        "pager": "cat",
        "quotePath": "false",
        "symlinks": "true",
    },
    "diff": {"ignoreSubmodules": "all"},
    "status": {"submoduleSummary": "false"},
    "log": {"showSignature": "false"},
    "protocol": {"allow": "never"},
}

_BOOL = r"(?i:true|false|yes|no|on|off|1|0)"
# Values copied from the repository's own config, each only when its whole value matches.
_COPIED = {
    "core.filemode": _BOOL,
    "core.ignorecase": _BOOL,
    "core.precomposeunicode": _BOOL,
    "core.trustctime": _BOOL,
    "core.checkstat": r"default|minimal",
    "core.autocrlf": rf"input|{_BOOL}",
    "core.eol": r"lf|crlf|native",
}
_NAME = r"[A-Za-z0-9][A-Za-z0-9._/+@-]{0,200}"
_TRACKING = {
    # key pattern (subsection = a branch or remote name) -> value pattern
    re.compile(rf"branch\.({_NAME})\.remote"): re.compile(rf"\.|{_NAME}"),
    re.compile(rf"branch\.({_NAME})\.merge"): re.compile(r"refs/[A-Za-z0-9._/+@-]{1,200}"),
    re.compile(rf"remote\.({_NAME})\.fetch"): re.compile(r"\+?[A-Za-z0-9._/*+@-]{1,200}:[A-Za-z0-9._/*+@-]{1,200}"),
}
# Extensions that change nothing for reading (a partial clone just cannot fetch what it lacks).
_IGNORED_EXTENSIONS = {"noop", "preciousobjects", "partialclone", "worktreeconfig"}


def _allowed_dir(entry: str, root: Path) -> bool:
    """A PATH entry git may come from: absolute, and not inside the project."""
    if not os.path.isabs(entry):
        return False
    real = Path(os.path.realpath(entry))
    return not (real == root or root in real.parents)


def search_path(root: Path) -> str:
    """PATH without relative entries (they depend on the working directory) and without the project."""
    entries = os.environ.get("PATH", os.defpath).split(os.pathsep)
    return os.pathsep.join(e for e in entries if _allowed_dir(e, root))


def find_git(root: Path) -> str:
    git = shutil.which("git", path=search_path(root))
    if git is None or not _allowed_dir(os.path.dirname(os.path.realpath(git)), root):
        raise ToolFailed("git is not installed (no git on PATH outside the project)")
    return git


@dataclass(frozen=True)
class GitSandbox:
    git: str
    layout: GitLayout
    root: Path
    private_dir: Path
    env: dict[str, str]
    user_settings: dict[str, str]  # core settings of the user's that git no longer finds itself

    async def run(self, args: Sequence[str], pathspecs: Sequence[str] = ()) -> ProcessResult:
        """`git ARGS -- PATHSPECS` in the sandbox; pathspecs never start with '-'."""
        for spec in pathspecs:
            if spec.startswith("-"):
                raise ToolFailed(f"{spec!r} looks like an option, not a path")
        argv = [self.git, "--no-pager", *args, *(["--", *pathspecs] if pathspecs else [])]
        try:
            return await run_process(
                argv,
                cwd=self.root,
                env=self.env,
                time_limit=GIT_TIMEOUT,
                merge_stderr=False,
                head=CAPTURE_LIMIT,
                tail=0,
            )
        except OSError as exc:
            raise ToolFailed(f"could not run git: {exc}") from exc

    async def check_index_paths(self) -> None:
        """Refuse an index listing a path that leaves the working tree ('..', '.git', absolute, …)."""
        argv = [self.git, "--no-pager", "ls-files", "-z", "--full-name", "--cached"]
        errors_path = self.private_dir / "ls-files.stderr"

        async def work() -> tuple[bytes | None, int | None, bool]:
            errors = await anyio.to_thread.run_sync(errors_path.open, "wb")
            with errors, anyio.CancelScope(shield=True):
                # Under a supervisor like every command: nothing git starts outlives the server.
                supervised = await start_supervised(
                    argv, cwd=self.root, env=self.env, grace=KILL_GRACE, stdout=subprocess.PIPE, stderr=errors.fileno()
                )
            proc = supervised.proc
            bad: bytes | None = None
            try:
                with anyio.move_on_after(GIT_TIMEOUT) as deadline:
                    bad = await _first_unsafe_path(proc.stdout)
                    if bad is None:
                        await proc.wait()
            finally:
                with anyio.CancelScope(shield=True):
                    await supervised.stopped()
                    supervised.forget()
                    await proc.aclose()
            return bad, proc.returncode, deadline.cancelled_caught

        bad, code, timed_out = await guarded(work)
        if bad is not None:
            shown = bad[:200].decode("utf-8", "backslashreplace")
            raise ToolFailed(
                f"the git index lists the path {shown!r}, which leads outside the working tree or into .git; "
                "the repository looks crafted, so the git tools will not read it (inspect it with git yourself)"
            )
        if timed_out:
            raise ToolFailed(f"listing the git index took longer than {GIT_TIMEOUT:g} s; the git tools gave up")
        if code != 0:
            detail = (await anyio.Path(errors_path).read_text(errors="replace")).strip()[-2000:]
            raise ToolFailed(f"git could not read the index: {detail or f'exit code {code}'}")


def safe_index_path(name: bytes) -> bool:
    """What git itself would accept when adding a path: relative, no '', '.', '..' or '.git' parts."""
    if not name or name.startswith(b"/"):
        return False
    return all(part not in (b"", b".", b"..") and part.lower() != b".git" for part in name.split(b"/"))


async def _first_unsafe_path(stream: ByteReceiveStream | None) -> bytes | None:
    if stream is None:
        return None
    pending = b""
    async for chunk in stream:
        pending += chunk
        *names, pending = pending.split(b"\0")
        for name in names:
            if not safe_index_path(name):
                return name
        if len(pending) > MAX_INDEX_PATH:
            return pending
    return pending or None  # ls-files ends every name with NUL: a remainder is not a complete name


@asynccontextmanager
async def git_sandbox(root: Path) -> AsyncIterator[GitSandbox]:
    """A private git directory for one git call on the repository holding `root` (see the module doc)."""
    try:
        sandbox = await anyio.to_thread.run_sync(_prepare, root)
    except GitRefused as exc:
        raise ToolFailed(str(exc)) from exc
    try:
        config = await _copied_config(sandbox)
        await anyio.Path(sandbox.private_dir / "config").write_text(config)
        yield sandbox
    finally:
        with anyio.CancelScope(shield=True):
            await anyio.to_thread.run_sync(shutil.rmtree, sandbox.private_dir, True)


def _prepare(root: Path) -> GitSandbox:
    git = find_git(root)
    try:
        layout = find_layout(root)
    except OSError as exc:  # an unreadable folder on the way up, say
        raise GitRefused(f"cannot look for the git repository: {exc}") from exc
    private_dir = _private_git_dir(layout)
    env = _environment(private_dir, layout.top, root)
    return GitSandbox(git, layout, root, private_dir, env, _user_excludes())


def _environment(private_dir: Path, top: Path, root: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env.update(
        PATH=search_path(root),
        GIT_DIR=str(private_dir),
        GIT_WORK_TREE=str(top),
        GIT_CONFIG_NOSYSTEM="1",
        GIT_CONFIG_GLOBAL=os.devnull,
        GIT_ATTR_NOSYSTEM="1",
        GIT_TERMINAL_PROMPT="0",
        GIT_OPTIONAL_LOCKS="0",
        GIT_NO_LAZY_FETCH="1",
        GIT_LITERAL_PATHSPECS="1",
        GIT_PAGER="cat",
        PAGER="cat",
        HOME=str(private_dir),  # no ~/.gitconfig even for a git too old for GIT_CONFIG_GLOBAL
        XDG_CONFIG_HOME=str(private_dir),
        LC_ALL="C",  # git's messages in English: some are recognised by the tools
    )
    return env


def _user_excludes() -> dict[str, str]:
    """The user's own global ignore file (git's default place for it), which git no longer finds via HOME."""
    base = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    path = os.path.join(base, "git", "ignore")
    if not os.path.isabs(path) or not os.path.isfile(path) or any(c in path for c in '\n"\\'):
        return {}
    return {"excludesFile": f'"{path}"'}


def _private_git_dir(layout: GitLayout) -> Path:
    private_dir = Path(tempfile.mkdtemp(prefix="punie-git-"))
    try:
        for name, target in layout.links().items():
            if name == "HEAD":  # git refuses a HEAD that is a symlink to anything but refs/…
                (private_dir / "HEAD").write_bytes(read_small(target, str(target)))
            elif name == "index":  # a copy: `git diff` rewrites the index it refreshes, even without locks
                # with its mtime, which git compares file mtimes with ("racily clean" entries)
                shutil.copy2(os.path.realpath(target), private_dir / "index")
            else:
                os.symlink(os.path.realpath(target), private_dir / name)
        (private_dir / "config").write_text(_render({}, {}))
    except OSError as exc:
        shutil.rmtree(private_dir, ignore_errors=True)
        raise GitRefused(f"could not prepare git: {exc}") from exc
    except BaseException:
        shutil.rmtree(private_dir, ignore_errors=True)
        raise
    return private_dir


async def _copied_config(sandbox: GitSandbox) -> str:
    """The private config: the fixed settings plus what passes the allow-list from the repository's."""
    source = sandbox.layout.common_dir / "config"
    if not await anyio.Path(source).exists():
        return _render(sandbox.user_settings, {})
    result = await sandbox.run(["config", "--file", str(source), "--no-includes", "--null", "--list"])
    if not result.ok:
        detail = result.errors.strip() or result.status()
        raise ToolFailed(f"git could not read the repository's config: {detail[-2000:]}")
    values: dict[str, str] = {}
    for record in result.output.split("\0"):
        key, newline, value = record.partition("\n")
        values[key] = value if newline else "true"  # a bare key is a boolean true
    core = dict(sandbox.user_settings)
    for key, pattern in _COPIED.items():
        if key in values and re.fullmatch(pattern, values[key]):
            core[key.removeprefix("core.")] = values[key]
    extensions = _extensions(values)
    core["repositoryformatversion"] = "1" if extensions else "0"
    sections: dict[str, dict[str, str]] = {"extensions": extensions}
    for key, value in values.items():
        for key_pattern, value_pattern in _TRACKING.items():
            match = key_pattern.fullmatch(key)
            if match and value_pattern.fullmatch(value):
                section = f'{key.split(".", 1)[0]} "{match.group(1)}"'
                sections.setdefault(section, {})[key.rsplit(".", 1)[1]] = value
    return _render(core, sections)


def _extensions(values: dict[str, str]) -> dict[str, str]:
    version = values.get("core.repositoryformatversion", "0")
    if version not in ("0", "1"):
        raise ToolFailed(f"the repository has format version {version[:20]!r}, which the git tools cannot read")
    if version == "0":
        return {}  # git ignores extensions in a version-0 repository
    copied: dict[str, str] = {}
    for key, value in values.items():
        name = key.removeprefix("extensions.")
        if name == key or name in _IGNORED_EXTENSIONS:
            continue
        if name == "objectformat" and value in ("sha1", "sha256"):
            copied["objectFormat"] = value
            continue
        raise ToolFailed(f"the repository uses the git extension {key[:80]!r}, which the git tools do not support")
    return copied


def _render(core: dict[str, str], sections: dict[str, dict[str, str]]) -> str:
    """Config text; every name and value here matched a strict pattern or was quoted."""
    merged = {"core": {**_FIXED["core"], **core}, **{k: v for k, v in _FIXED.items() if k != "core"}, **sections}
    lines = []
    for section, entries in merged.items():
        if entries:
            lines.append(f"[{section}]")
            lines += [f"\t{key} = {value}" for key, value in entries.items()]
    return "\n".join(lines) + "\n"
