"""Who answers a permission prompt in a terminal: `--policy`.

- `yes`: every edit and command is allowed without asking.
- `ask`, `auto-edit` (edits allowed by the mode, commands asked): a y/n question on stderr,
  answered on the terminal; when stdin or stderr is not a terminal nobody can answer, so the
  action is refused with a hint saying how to allow it.
- `read-only`: the mode denies edits and commands before anyone is asked.

The question is read from the terminal without blocking the event loop (a reader on stdin's
descriptor), so Ctrl-C cancels a turn waiting on it like any other.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Protocol, TextIO

from punie_acp.core.events import DiffContent
from punie_acp.core.host import (
    HostCapabilities,
    LocalHost,
    PermissionOutcome,
    PermissionRequest,
    Terminal,
    TerminalSpec,
)
from punie_acp.headless.options import Policy

Decide = Callable[[PermissionRequest], Awaitable[PermissionOutcome]]

HINT = "pass --policy yes (or --yes) to allow edits and commands, or --policy auto-edit for edits only"
_ANSWERS: dict[str, PermissionOutcome] = {
    "y": "allow_once",
    "yes": "allow_once",
    "a": "allow_always",
    "always": "allow_always",
    "n": "reject_once",
    "no": "reject_once",
    "": "reject_once",
    "never": "reject_always",
}


class Watcher(Protocol):
    def permission_asked(self, request: PermissionRequest) -> None: ...

    def permission_answered(self, request: PermissionRequest, outcome: PermissionOutcome) -> None: ...


class TerminalHost:
    """No editor: the disk and subprocesses (as `LocalHost`), permission answered by `decide`."""

    def __init__(self, decide: Decide, watcher: Watcher) -> None:
        self._local = LocalHost()
        self._decide = decide
        self._watcher = watcher

    @property
    def capabilities(self) -> HostCapabilities:
        return self._local.capabilities

    async def read_text_file(self, path: Path, line: int | None = None, limit: int | None = None) -> str:
        return await self._local.read_text_file(path, line, limit)

    async def write_text_file(self, path: Path, content: str) -> None:
        await self._local.write_text_file(path, content)

    async def request_permission(self, request: PermissionRequest) -> PermissionOutcome:
        self._watcher.permission_asked(request)
        outcome = await self._decide(request)
        self._watcher.permission_answered(request, outcome)
        return outcome

    async def create_terminal(self, spec: TerminalSpec) -> Terminal:
        return await self._local.create_terminal(spec)


def decider(policy: Policy, stdin: TextIO, err: TextIO) -> Decide:
    if policy == "yes":
        return _allow
    if stdin.isatty() and err.isatty():
        return TerminalQuestion(stdin.fileno(), err).ask
    return NobodyToAsk(err).ask


async def _allow(_request: PermissionRequest) -> PermissionOutcome:
    return "allow_once"


class NobodyToAsk:
    def __init__(self, err: TextIO) -> None:
        self._err = err

    async def ask(self, request: PermissionRequest) -> PermissionOutcome:
        self._err.write(f"\npunie: refused {request.title!r}: nobody can be asked here (no terminal); {HINT}.\n")
        self._err.flush()
        return "reject_once"


class TerminalQuestion:
    def __init__(self, fd: int, err: TextIO) -> None:
        self._fd = fd
        self._err = err

    async def ask(self, request: PermissionRequest) -> PermissionOutcome:
        self._err.write(f"\npunie wants to {request.kind}: {request.title}\n")
        for content in request.content:
            if isinstance(content, DiffContent):
                self._err.write(_short_diff(content))
        while True:
            self._err.write("Allow? [y]es, [n]o, [a]lways, ne[v]er (default no): ")
            self._err.flush()
            line = await _read_line(self._fd)
            if line is None:  # end of input (Ctrl-D): the prompt is cancelled, and with it the turn
                self._err.write("\n")
                return "cancelled"
            answer = line.strip().lower()
            outcome = _ANSWERS.get("never" if answer == "v" else answer)
            if outcome is not None:
                return outcome


async def _read_line(fd: int) -> str | None:
    """One line from a terminal, without blocking the loop; None at end of input."""
    loop = asyncio.get_running_loop()
    ready: asyncio.Future[None] = loop.create_future()

    def on_readable() -> None:
        if not ready.done():
            ready.set_result(None)

    loop.add_reader(fd, on_readable)
    try:
        await ready
    finally:
        loop.remove_reader(fd)
    data = os.read(fd, 4096)
    return data.decode("utf-8", "replace") if data else None


def _short_diff(diff: DiffContent, most: int = 40) -> str:
    import difflib

    lines = list(
        difflib.unified_diff(
            (diff.old_text or "").splitlines(), diff.new_text.splitlines(), str(diff.path), str(diff.path), lineterm=""
        )
    )
    shown = lines[:most] + ([f"… {len(lines) - most} more lines"] if len(lines) > most else [])
    return "".join(line + "\n" for line in shown)
