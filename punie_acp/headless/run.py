"""`run_ask`: one turn through `CoreService`, shown by a view, answered by a policy, ended by an exit status."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
from collections.abc import Callable, Iterator
from typing import TextIO

from punie_acp.config import Settings
from punie_acp.core.errors import CoreError
from punie_acp.core.events import TurnEnded
from punie_acp.core.service import CoreService
from punie_acp.headless import exits
from punie_acp.headless.console import Console
from punie_acp.headless.jsonl import JsonEvents
from punie_acp.headless.options import Policy
from punie_acp.headless.permission import TerminalHost, decider
from punie_acp.models.base import ModelNotAvailable
from punie_acp.models.registry import resolve_backend
from punie_acp.tools.registry import default_tools


async def run_ask(
    settings: Settings,
    prompt: str,
    cwd: str,
    *,
    policy: Policy,
    json_events: bool = False,
    stdin: TextIO | None = None,
) -> int:
    out, err = sys.stdout, sys.stderr
    view: Console | JsonEvents = JsonEvents(out, err) if json_events else Console(out, err)
    try:
        backend = resolve_backend(settings.model, settings)
    except ModelNotAvailable as exc:
        view.finish(None, exits.USAGE, str(exc))
        return exits.USAGE
    core = CoreService(backend, settings, default_tools(settings.tool_style))
    host = TerminalHost(decider(policy, stdin or sys.stdin, err), view)
    ended: TurnEnded | None = None
    try:
        core.start()
        session = core.open_session(cwd, lambda _sid: host)
        view.started(session.id, backend.name, str(session.root), session.mode_id)
        with _interrupts_cancel(lambda: core.cancel(session.id), err):
            ended = await core.run_turn(session.id, prompt, view.show)
    except CoreError as exc:
        code = exits.for_error(exc)
        view.finish(ended, code, str(exc))
        return code
    finally:
        await core.aclose()
    if view.reader_gone:
        return exits.OK
    code = exits.for_turn(ended.stop_reason, session.permissions.refusals)
    view.finish(ended, code, None)
    return code


@contextlib.contextmanager
def _interrupts_cancel(cancel: Callable[[], None], err: TextIO) -> Iterator[None]:
    """During the turn the first Ctrl-C cancels it (tools stopped, the turn ends as cancelled);
    a second one, or one after the turn, interrupts at once as Python does by default
    (`KeyboardInterrupt`, exit status 130). This replaces, for the turn, the handler
    `tools.children.reaping` installs, which would stop the whole run without ending the turn."""
    loop = asyncio.get_running_loop()

    def first() -> None:
        err.write("\npunie: cancelling (Ctrl-C again to quit at once)\n")
        err.flush()
        loop.remove_signal_handler(signal.SIGINT)  # back to Python's default: KeyboardInterrupt
        cancel()

    try:
        loop.add_signal_handler(signal.SIGINT, first)
    except (ValueError, RuntimeError, NotImplementedError):  # not the main thread, or no signals here
        yield
        return
    try:
        yield
    finally:
        loop.remove_signal_handler(signal.SIGINT)
