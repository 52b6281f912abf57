"""`run_command`: a shell command in the project root, in the editor's terminal when it has one.

The command line goes to `bash -c` (non-login, non-interactive; `/bin/sh -c` where bash is
missing) with empty stdin, so the environment is the editor's own plus a few variables
(`toolchain.env_overrides`). Every command asks permission per the session's mode first; a
local command runs under a supervisor (`process.py`) so that nothing it starts outlives it.
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import anyio
from pydantic_ai import RunContext
from pydantic_ai.exceptions import ToolFailed

from punie_acp.core.context import ToolContext
from punie_acp.core.events import TerminalContent, TextContent
from punie_acp.core.host import PermissionRequest, Terminal, TerminalExit, TerminalSpec
from punie_acp.core.tooling import AgentTool
from punie_acp.tools.output import OUTPUT_HEAD, OUTPUT_TAIL, OutputCap
from punie_acp.tools.process import KILL_GRACE, guarded, run_process
from punie_acp.tools.toolchain import env_overrides, local_env

log = logging.getLogger(__name__)

MIN_TIMEOUT = 1.0
MAX_TIMEOUT = 3600.0
TERMINAL_OUTPUT_LIMIT = 1_000_000  # bytes the editor keeps (its newest); the model sees head + tail
LIVE_BLOCK = "output"  # the live block of streaming output in the tool call
_CLEANUP_TIMEOUT = 5.0


def shell_argv(command: str) -> list[str]:
    bash = shutil.which("bash")
    return [bash, "-c", command] if bash else ["/bin/sh", "-c", command]


def fenced(text: str) -> str:
    """Output as a markdown code block (editors render tool text as markdown)."""
    fence = "```"
    while fence in text:
        fence += "`"
    return f"{fence}\n{text.rstrip(chr(10))}\n{fence}"


def short(command: str, width: int = 80) -> str:
    line = " ".join(command.split())
    return line if len(line) <= width else line[: width - 1] + "…"


def clamp_timeout(requested: float | None, default: float) -> float:
    value = default if requested is None or requested <= 0 else requested
    return max(MIN_TIMEOUT, min(value, max(MAX_TIMEOUT, default)))


def with_status(output: str, status: str, note: str = "") -> str:
    body = output if output.strip() else "(no output)"
    return f"{body.rstrip(chr(10))}\n[{status}]{note}"


async def _quietly(action: Callable[[], Awaitable[None]], what: str) -> None:
    with anyio.move_on_after(_CLEANUP_TIMEOUT):
        try:
            await action()
        except Exception as exc:  # the editor may already have let go of it
            log.info("terminal %s failed: %s", what, exc)


def _exit_status(exit_: TerminalExit | None, timed_out: bool, timeout: float) -> tuple[str, bool]:
    if timed_out:
        return f"timed out after {timeout:g} s: the command was killed", False
    if exit_ is None:
        return "exit status unknown", False
    if exit_.signal:
        return f"killed by {exit_.signal}", False
    return f"exit code {exit_.exit_code}", exit_.exit_code == 0


async def _in_terminal(deps: ToolContext, call_id: str, command: str, limit: float) -> tuple[str, bool]:
    argv = shell_argv(command)
    root = deps.workspace.root
    spec = TerminalSpec(
        command=argv[0], args=argv[1:], cwd=root, env=env_overrides(root), output_byte_limit=TERMINAL_OUTPUT_LIMIT
    )
    # Shielded (we run `guarded`): a cancel must not lose a terminal the editor goes on to start.
    with anyio.CancelScope(shield=True):
        try:
            terminal: Terminal = await deps.host.create_terminal(spec)
        except Exception as exc:
            raise ToolFailed(f"the editor could not start a terminal for the command: {exc}") from exc
    finished = False
    exit_: TerminalExit | None = None
    try:
        await deps.report(call_id, content=(TerminalContent(terminal.terminal_id),))
        with anyio.move_on_after(limit) as deadline:
            exit_ = await terminal.wait_for_exit()
        if deadline.cancelled_caught:
            await terminal.kill()
            with anyio.move_on_after(KILL_GRACE + 3):
                await terminal.wait_for_exit()
        result = await terminal.output()
        exit_ = result.exit or exit_
        finished = True
    finally:
        with anyio.CancelScope(shield=True):
            if not finished:  # cancelled or failed: the command must not keep running
                await _quietly(terminal.kill, "kill")
            await _quietly(terminal.release, "release")
    cap = OutputCap(OUTPUT_HEAD, OUTPUT_TAIL)
    cap.feed(result.output.encode("utf-8", errors="replace"))
    note = "\n[the editor kept only the newest part of the output]" if result.truncated else ""
    status, ok = _exit_status(exit_, deadline.cancelled_caught, limit)
    return with_status(cap.text(), status, note), ok


async def _locally(deps: ToolContext, call_id: str | None, command: str, limit: float) -> tuple[str, bool]:
    async def live(text: str) -> None:
        if call_id:
            await deps.report(call_id, content=(TextContent(fenced(text)),), block=LIVE_BLOCK)

    root = deps.workspace.root
    try:
        result = await run_process(shell_argv(command), cwd=root, env=local_env(root), time_limit=limit, live=live)
    except OSError as exc:
        raise ToolFailed(f"could not start the command: {exc}") from exc
    if call_id:
        await deps.report(call_id, block=LIVE_BLOCK)  # the result takes the live view's place
    note = ""
    if result.stream_left_open:
        note = "\n[a detached background process kept the output open; reading stopped]"
    return with_status(result.output, result.status(), note), result.ok


async def run_command(
    ctx: RunContext[ToolContext],
    command: str,
    timeout: float | None = None,  # noqa: ASYNC109 (the model's argument, enforced below)
) -> str:
    """Run a shell command (bash) in the project root; returns its output and exit status.

    Non-interactive: stdin is empty. stdout and stderr come back together; long output keeps
    its beginning and end. A failing exit status fails the call.

    Args:
        command: The command line, e.g. 'make test' or 'ls -la src'.
        timeout: Seconds before the command and everything it started are killed (default from settings).
    """
    deps = ctx.deps
    if not command.strip():
        raise ToolFailed("command is empty")
    limit = clamp_timeout(timeout, deps.settings.command_timeout)
    request = PermissionRequest(
        call_id=ctx.tool_call_id or "",
        title=f"Run `{short(command)}`",
        kind="execute",
        raw_input={"command": command, "cwd": str(deps.workspace.root), "timeout": limit},
        content=(TextContent(fenced(command)),) if short(command) != command else (),
    )
    await deps.permissions.require("execute", request)  # refused: a failed call; cancelled: the turn ends
    call_id = ctx.tool_call_id
    if deps.host.capabilities.terminal and call_id:
        text, ok = await guarded(lambda: _in_terminal(deps, call_id, command, limit))
    else:
        text, ok = await _locally(deps, call_id, command, limit)
    if not ok:
        raise ToolFailed(text)
    return text


def _title(args: Mapping[str, Any]) -> str:
    command = args.get("command")
    return f"Run `{short(command)}`" if isinstance(command, str) and command.strip() else "Run a command"


RUN_COMMAND = AgentTool(run_command, kind="execute", title=_title)
