"""Running one program in Monty: a fresh worker pool per program, limits, and one outcome.

Monty runs code in `monty` worker subprocesses. Each program gets its own pool of one worker,
closed (shielded from cancellation) when the program ends, is cancelled or fails, so no
worker outlives its program; a worker also dies with the server (`workers.py`). Inside: no
`open` (no mounts are given), no `os` handler, no environment, sleeps return at once, and the
type checker runs first.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import anyio
from pydantic_monty import (
    AsyncMonty,
    CollectString,
    MontyCrashedError,
    MontyError,
    MontyRuntimeError,
    MontySyntaxError,
    MontyTypingError,
    ResourceLimits,
)

from punie_acp.tools.codemode.workers import worker_binary

# Suspensions also count name lookups and future resolutions: a generous multiple of the calls.
SUSPENSIONS_PER_CALL = 4
MAX_RECURSION = 200
SHOWN_CHARS = 20_000  # what the model gets back, at most

Status = Literal["ok", "not_run", "failed", "stopped"]


@dataclass(frozen=True)
class Limits:
    seconds: float
    memory_bytes: int
    max_calls: int
    output_bytes: int


@dataclass(frozen=True)
class Outcome:
    status: Status
    text: str  # printed output, then the program's value or its error


def _cut(text: str, limit: int = SHOWN_CHARS) -> str:
    if len(text) <= limit:
        return text
    return text[:limit] + f"\n[… cut: {len(text) - limit} more characters]"


def shown_value(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    try:
        return json.dumps(value, ensure_ascii=False, default=repr)
    except (TypeError, ValueError):  # e.g. circular
        return repr(value)


def _failure(exc: MontyError) -> tuple[Status, str]:
    if isinstance(exc, MontyTypingError):
        return "not_run", "The program was not run: it has type errors.\n" + exc.display()
    if isinstance(exc, MontySyntaxError):
        return "not_run", "The program was not run: " + exc.display("type-msg")
    if isinstance(exc, MontyRuntimeError):
        return "failed", "The program failed:\n" + exc.display("traceback")
    if isinstance(exc, MontyCrashedError):
        return "failed", f"The program's sandbox worker died ({exc}); nothing else was affected."
    return "failed", f"The program failed: {exc}"


def _limits(limits: Limits) -> ResourceLimits:
    return {
        "max_feed_duration_secs": limits.seconds,
        "max_memory": limits.memory_bytes,
        "max_recursion_depth": MAX_RECURSION,
        "max_suspensions": limits.max_calls * SUSPENSIONS_PER_CALL + 100,
    }


async def run_program(
    code: str,
    functions: dict[str, Callable[..., Any]],
    stubs: str,
    limits: Limits,
    scope: anyio.CancelScope,
    *,
    type_check: bool = True,
) -> Outcome:
    """Type-check then run `code`; `scope` cancelled stops it (status `stopped`).

    `type_check=False` is for tests that show the runtime holds without the checker.
    """
    printed = CollectString(max_bytes=limits.output_bytes)
    status: Status = "stopped"
    text = "The program was stopped."
    async with contextlib.AsyncExitStack() as stack:
        try:
            pool = AsyncMonty(min_processes=1, max_processes=1, binary_path=worker_binary())
            await pool.__aenter__()
            stack.push_async_exit(_shielded(pool.__aexit__))
            session = pool.checkout(
                script_name="program.py",
                limits=_limits(limits),
                type_check=type_check,
                type_check_stubs=stubs,
                type_check_format="concise",
                os_policy={"sleep": "zero"},
            )
            await session.__aenter__()
            stack.push_async_exit(_shielded(session.__aexit__))
            with scope:
                value = await session.feed_run(code, external_lookup=dict(functions), print_callback=printed)
                status, text = "ok", shown_value(value)
        except MontyError as exc:
            status, text = _failure(exc)
    # Printed output first, cut on its own so that an error after a flood of output is still seen.
    output = _cut(printed.output, SHOWN_CHARS // 2)
    if output and text:
        output += "\n"
    return Outcome(status, output + _cut(text, SHOWN_CHARS // 2))


def _shielded(exit_: Callable[..., Any]) -> Callable[..., Any]:
    """An `__aexit__` that runs to the end even while the turn is being cancelled."""

    async def close(*exc_info: Any) -> bool:
        with anyio.CancelScope(shield=True):
            await exit_(*exc_info)
        return False

    return close
