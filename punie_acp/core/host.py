"""What the core needs from the editor, as a Protocol with a local (no-editor) implementation.

The ACP face implements `EditorHost` with `fs/*`, `terminal/*` and
`session/request_permission`; `LocalHost` serves headless runs and clients that do not
advertise those capabilities.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol

from punie_acp.core.events import ToolContent, ToolKind

PermissionOutcome = Literal["allow_once", "allow_always", "reject_once", "reject_always", "cancelled"]


@dataclass(frozen=True)
class HostCapabilities:
    read_text_file: bool = False
    write_text_file: bool = False
    terminal: bool = False


@dataclass(frozen=True)
class PermissionRequest:
    call_id: str
    title: str
    kind: ToolKind
    raw_input: Any
    content: tuple[ToolContent, ...] = ()


@dataclass(frozen=True)
class TerminalExit:
    exit_code: int | None
    signal: str | None = None


@dataclass(frozen=True)
class TerminalOutput:
    output: str
    truncated: bool
    exit: TerminalExit | None


class Terminal(Protocol):
    @property
    def terminal_id(self) -> str: ...

    async def output(self) -> TerminalOutput: ...

    async def wait_for_exit(self) -> TerminalExit: ...

    async def kill(self) -> None: ...

    async def release(self) -> None: ...


@dataclass(frozen=True)
class TerminalSpec:
    command: str
    args: Sequence[str] = ()
    cwd: Path | None = None
    env: dict[str, str] = field(default_factory=dict)
    output_byte_limit: int | None = None


class EditorHost(Protocol):
    @property
    def capabilities(self) -> HostCapabilities: ...

    async def read_text_file(self, path: Path, line: int | None = None, limit: int | None = None) -> str:
        """The editor's view of a file (unsaved buffer included). Only if `capabilities.read_text_file`."""
        ...

    async def write_text_file(self, path: Path, content: str) -> None:
        """Write through the editor (its review/diff UI). Only if `capabilities.write_text_file`."""
        ...

    async def request_permission(self, request: PermissionRequest) -> PermissionOutcome: ...

    async def create_terminal(self, spec: TerminalSpec) -> Terminal:
        """Run a command in an editor terminal. Only if `capabilities.terminal`."""
        ...


class LocalHost:
    """No editor: no buffers or terminals (tools use the disk and subprocesses), a fixed permission policy."""

    def __init__(self, policy: PermissionOutcome = "reject_once") -> None:
        self._policy: PermissionOutcome = policy

    @property
    def capabilities(self) -> HostCapabilities:
        return HostCapabilities()

    # No editor buffers: tools read and write the disk themselves, through the race-safe
    # `tools.safeio`, so these are never called (the capabilities say so).
    async def read_text_file(self, path: Path, line: int | None = None, limit: int | None = None) -> str:
        raise NotImplementedError("LocalHost has no editor buffers; tools read the disk through tools.safeio")

    async def write_text_file(self, path: Path, content: str) -> None:
        raise NotImplementedError("LocalHost has no editor buffers; tools write the disk through tools.safeio")

    async def request_permission(self, request: PermissionRequest) -> PermissionOutcome:
        return self._policy

    async def create_terminal(self, spec: TerminalSpec) -> Terminal:
        raise NotImplementedError("LocalHost has no editor terminals; tools run a local subprocess instead")
