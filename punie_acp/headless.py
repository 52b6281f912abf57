"""`punie ask`: one prompt in a terminal. The answer goes to stdout, progress to stderr.

Expected failures (model unreachable, bad cwd, …) are one `punie: …` line on stderr and exit
status 2; tracebacks go to the log file only.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TextIO

from punie_acp.config import Settings
from punie_acp.core.errors import CoreError
from punie_acp.core.events import Event, TextDelta, ThoughtDelta, ToolFinished, ToolStarted
from punie_acp.core.host import (
    HostCapabilities,
    LocalHost,
    PermissionOutcome,
    PermissionRequest,
    Terminal,
    TerminalSpec,
)
from punie_acp.core.service import CoreService
from punie_acp.models.base import ModelNotAvailable
from punie_acp.models.registry import resolve_backend
from punie_acp.tools.registry import default_tools


class TerminalHost:
    """No editor and no one to ask: a fixed answer to every permission prompt, and a word
    on stderr when that answer is no, so the user learns how to allow it next time."""

    def __init__(self, allow: bool, err: TextIO) -> None:
        self._local = LocalHost(policy="allow_once" if allow else "reject_once")
        self._allow = allow
        self._err = err

    @property
    def capabilities(self) -> HostCapabilities:
        return self._local.capabilities

    async def read_text_file(self, path: Path, line: int | None = None, limit: int | None = None) -> str:
        return await self._local.read_text_file(path, line, limit)

    async def write_text_file(self, path: Path, content: str) -> None:
        await self._local.write_text_file(path, content)

    async def request_permission(self, request: PermissionRequest) -> PermissionOutcome:
        outcome = await self._local.request_permission(request)
        if not self._allow:
            self._err.write(
                f"\npunie: refused {request.title!r}: nobody can be asked in a terminal. "
                "Pass --yes to allow edits and commands (or --mode auto-edit for edits only).\n"
            )
        return outcome

    async def create_terminal(self, spec: TerminalSpec) -> Terminal:
        return await self._local.create_terminal(spec)


class Console:
    """Shows a turn's events: the answer on `out`, thoughts and tool calls on `err`."""

    def __init__(self, out: TextIO, err: TextIO) -> None:
        self._out = out
        self._err = err
        self._err_at_line_start = True
        self._wrote_answer = False
        self.reader_gone = False  # `punie ask … | head`: the reader took what it wanted

    async def show(self, event: Event) -> None:
        if isinstance(event, TextDelta):
            # A thought in progress ends its line before the answer starts (both share a terminal).
            self._end_err_line()
            self._write_out(event.text)
            self._wrote_answer = True
        elif isinstance(event, ThoughtDelta):
            self._write_err(event.text)
        elif isinstance(event, ToolStarted):
            self._end_err_line()
            self._write_err(f"[{event.kind}] {event.title}\n")
        elif isinstance(event, ToolFinished):
            self._write_err(f"[{'done' if event.ok else 'failed'}]\n")

    def finish(self) -> None:
        if self._wrote_answer and not self.reader_gone:
            self._write_out("\n")
        self._end_err_line()

    def _write_out(self, text: str) -> None:
        try:
            self._out.write(text)
            self._out.flush()
        except BrokenPipeError:
            self.reader_gone = True
            # Nothing more can be written there, not even by the interpreter's flush at exit.
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, self._out.fileno())
            os.close(devnull)
            raise  # the core ends the turn: nobody reads the answer

    def _write_err(self, text: str) -> None:
        if text:
            self._err.write(text)
            self._err.flush()
            self._err_at_line_start = text.endswith("\n")

    def _end_err_line(self) -> None:
        if not self._err_at_line_start:
            self._write_err("\n")


async def run_ask(settings: Settings, prompt: str, cwd: str, *, allow: bool) -> int:
    try:
        backend = resolve_backend(settings.model, settings)
    except ModelNotAvailable as exc:
        print(f"punie: {exc}", file=sys.stderr)
        return 2
    core = CoreService(backend, settings, default_tools(settings.tool_style))
    console = Console(sys.stdout, sys.stderr)
    host = TerminalHost(allow, sys.stderr)
    try:
        core.start()
        session = core.open_session(cwd, lambda _sid: host)
        ended = await core.run_turn(session.id, prompt, console.show)
    except CoreError as exc:
        console.finish()
        print(f"punie: {exc}", file=sys.stderr)
        return 2
    finally:
        await core.aclose()
    console.finish()
    if console.reader_gone:
        return 0
    if ended.stop_reason != "end_turn":
        print(f"punie: turn ended: {ended.stop_reason}", file=sys.stderr)
        return 1
    return 0
