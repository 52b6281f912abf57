"""`punie ask`: one prompt in a terminal. The answer goes to stdout, progress to stderr."""

from __future__ import annotations

import sys

from punie_acp.config import Settings
from punie_acp.core.events import Event, TextDelta, ThoughtDelta, ToolFinished, ToolStarted
from punie_acp.core.host import LocalHost
from punie_acp.core.session import SessionError, SessionManager
from punie_acp.core.turn import TurnRunner
from punie_acp.models.base import ModelNotAvailable
from punie_acp.models.registry import resolve_backend
from punie_acp.tools.registry import default_tools


async def run_ask(settings: Settings, prompt: str, cwd: str, *, allow: bool) -> int:
    try:
        backend = resolve_backend(settings.model, settings)
    except ModelNotAvailable as exc:
        print(f"punie: {exc}", file=sys.stderr)
        return 2
    host = LocalHost(policy="allow_once" if allow else "reject_once")
    try:
        session = SessionManager(settings).create(cwd, lambda _sid: host)
    except SessionError as exc:
        print(f"punie: {exc}", file=sys.stderr)
        return 2
    runner = TurnRunner(backend, default_tools())
    backend.start_loading()

    async def show(event: Event) -> None:
        if isinstance(event, TextDelta):
            sys.stdout.write(event.text)
            sys.stdout.flush()
        elif isinstance(event, ThoughtDelta):
            sys.stderr.write(event.text)
        elif isinstance(event, ToolStarted):
            sys.stderr.write(f"\n[{event.kind}] {event.title}\n")
        elif isinstance(event, ToolFinished):
            sys.stderr.write(f"[{'done' if event.ok else 'failed'}]\n")

    try:
        ended = await runner.run(session, prompt, show)
    except ModelNotAvailable as exc:
        print(f"\npunie: {exc}", file=sys.stderr)
        return 2
    finally:
        await backend.aclose()
    sys.stdout.write("\n")
    if ended.stop_reason != "end_turn":
        print(f"punie: turn ended: {ended.stop_reason}", file=sys.stderr)
        return 1
    return 0
