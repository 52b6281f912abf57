"""Editor-side terminals for tests: each one really runs its command in a local subprocess.

`LocalTerminals` behaves like an editor's terminal/* implementation (output kept up to a byte
limit, dropping from the beginning; kill; release). `TerminalHost` puts it behind the core's
`EditorHost` for in-process tests; `tests.support.terminal_client` serves it over ACP.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from punie_acp.core.host import (
    HostCapabilities,
    LocalHost,
    PermissionOutcome,
    PermissionRequest,
    TerminalExit,
    TerminalOutput,
    TerminalSpec,
)


@dataclass
class RunningTerminal:
    process: asyncio.subprocess.Process
    limit: int | None
    output: bytearray = field(default_factory=bytearray)
    truncated: bool = False
    reader: asyncio.Task[None] | None = None
    released: bool = False

    def exit(self) -> TerminalExit | None:
        code = self.process.returncode
        if code is None:
            return None
        if code < 0:
            return TerminalExit(None, signal.Signals(-code).name)
        return TerminalExit(code)

    def text(self) -> str:
        return self.output.decode("utf-8", errors="replace")


class LocalTerminals:
    def __init__(self) -> None:
        self.terminals: dict[str, RunningTerminal] = {}
        self.calls: list[tuple[str, str]] = []  # (method, terminal id), in order
        self._next = 0

    async def create(
        self, command: str, args: list[str], cwd: str | None, env: Mapping[str, str], limit: int | None
    ) -> str:
        process = await asyncio.create_subprocess_exec(
            command,
            *args,
            cwd=cwd,
            env={**os.environ, **env},
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            start_new_session=True,
        )
        self._next += 1
        terminal_id = f"term-{self._next}"
        terminal = RunningTerminal(process, limit)
        terminal.reader = asyncio.create_task(self._read(terminal))
        self.terminals[terminal_id] = terminal
        self.calls.append(("create", terminal_id))
        return terminal_id

    async def _read(self, terminal: RunningTerminal) -> None:
        assert terminal.process.stdout is not None
        while data := await terminal.process.stdout.read(65536):
            terminal.output += data
            if terminal.limit is not None and len(terminal.output) > terminal.limit:
                del terminal.output[: len(terminal.output) - terminal.limit]
                terminal.truncated = True

    def get(self, terminal_id: str) -> RunningTerminal:
        terminal = self.terminals[terminal_id]
        if terminal.released:
            raise KeyError(f"terminal {terminal_id} was released")
        return terminal

    async def output(self, terminal_id: str) -> TerminalOutput:
        self.calls.append(("output", terminal_id))
        terminal = self.get(terminal_id)
        if terminal.process.returncode is not None and terminal.reader is not None:
            await asyncio.wait_for(asyncio.shield(terminal.reader), 10)
        return TerminalOutput(terminal.text(), terminal.truncated, terminal.exit())

    async def wait_for_exit(self, terminal_id: str) -> TerminalExit:
        self.calls.append(("wait_for_exit", terminal_id))
        terminal = self.get(terminal_id)
        await terminal.process.wait()
        exit_ = terminal.exit()
        assert exit_ is not None
        return exit_

    def _kill_group(self, terminal: RunningTerminal) -> None:
        if terminal.process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(terminal.process.pid, signal.SIGKILL)

    async def kill(self, terminal_id: str) -> None:
        self.calls.append(("kill", terminal_id))
        self._kill_group(self.get(terminal_id))

    async def release(self, terminal_id: str) -> None:
        self.calls.append(("release", terminal_id))
        terminal = self.get(terminal_id)
        self._kill_group(terminal)
        await terminal.process.wait()
        terminal.released = True

    def methods(self, terminal_id: str) -> list[str]:
        return [method for method, tid in self.calls if tid == terminal_id]


class _HostTerminal:
    def __init__(self, terminals: LocalTerminals, terminal_id: str) -> None:
        self._terminals = terminals
        self._id = terminal_id

    @property
    def terminal_id(self) -> str:
        return self._id

    async def output(self) -> TerminalOutput:
        return await self._terminals.output(self._id)

    async def wait_for_exit(self) -> TerminalExit:
        return await self._terminals.wait_for_exit(self._id)

    async def kill(self) -> None:
        await self._terminals.kill(self._id)

    async def release(self) -> None:
        await self._terminals.release(self._id)


class RecordingHost(LocalHost):
    """A local host that answers permission prompts with a fixed outcome and records them."""

    def __init__(self, policy: PermissionOutcome = "allow_once") -> None:
        super().__init__(policy)
        self.permission_requests: list[PermissionRequest] = []

    async def request_permission(self, request: PermissionRequest) -> PermissionOutcome:
        self.permission_requests.append(request)
        return await super().request_permission(request)


class TerminalHost(RecordingHost):
    """An editor host that offers terminals, run by `LocalTerminals`."""

    def __init__(self, policy: PermissionOutcome = "allow_once") -> None:
        super().__init__(policy)
        self.terminals = LocalTerminals()
        self.specs: list[TerminalSpec] = []

    @property
    def capabilities(self) -> HostCapabilities:
        return HostCapabilities(terminal=True)

    async def create_terminal(self, spec: TerminalSpec) -> _HostTerminal:
        self.specs.append(spec)
        terminal_id = await self.terminals.create(
            spec.command, list(spec.args), str(spec.cwd) if spec.cwd else None, spec.env, spec.output_byte_limit
        )
        return _HostTerminal(self.terminals, terminal_id)


def pids_in(path: Path) -> list[int]:
    return [int(p) for p in path.read_text().split()] if path.exists() else []


def alive(pid: int) -> bool:
    """Whether a process is running (a zombie nobody reaped yet counts as gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rfind(")") + 2 :].split()[0] not in ("Z", "X")
