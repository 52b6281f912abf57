"""Local subprocesses for tools: capped output, a live tail, and no survivors.

Every command runs under its own supervisor (`supervisor.py`, started by `children.py`).
Timeouts and cancellation tell the supervisor to stop: it sends SIGTERM to every process the
command started (also those that left its process group), then SIGKILL to whatever is left
after a grace period; when the command exits normally, anything it left running in the
background gets the same. The server dying, even by SIGKILL, has the same effect.
"""

from __future__ import annotations

import asyncio
import signal
import subprocess
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import anyio
from anyio.abc import ByteReceiveStream, Process

from punie_acp.tools.children import Supervised, start_supervised
from punie_acp.tools.output import OUTPUT_HEAD, OUTPUT_TAIL, OutputCap

LIVE_BYTES = 8_000  # the live view in the editor shows this much of the latest output
LIVE_INTERVAL = 0.1  # seconds between live updates (at most)
KILL_GRACE = 2.0  # seconds between SIGTERM and SIGKILL
DRAIN_AFTER_EXIT = 2.0  # seconds to finish reading once the command's processes are gone

LiveView = Callable[[str], Awaitable[None]]
T = TypeVar("T")


@dataclass(frozen=True)
class ProcessResult:
    output: str  # stdout (with stderr when merged), capped
    errors: str  # stderr when not merged, capped
    exit_code: int | None
    signal: str | None
    timed_out: bool
    timeout: float
    duration: float
    stream_left_open: bool  # a detached process kept the output open; reading stopped

    @property
    def ok(self) -> bool:
        return self.exit_code == 0 and not self.timed_out

    def status(self) -> str:
        if self.timed_out:
            how = f" ({self.signal})" if self.signal else ""
            return f"timed out after {self.timeout:g} s: the command and its child processes were killed{how}"
        if self.signal:
            return f"killed by {self.signal}"
        return f"exit code {self.exit_code}"


async def guarded(work: Callable[[], Awaitable[T]]) -> T:
    """Run `work` in its own task, so that its cleanup always runs to the end.

    PydanticAI cancels a tool's task natively (`Task.cancel()`), and on asyncio a native cancel
    goes through anyio shields. Here a cancel of the caller, native or anyio, becomes an anyio
    cancel of `work`'s own scope, where shields hold; the caller waits until `work` has
    unwound (killed its processes, released its terminal), then re-raises the cancel.
    """
    scope = anyio.CancelScope()

    async def body() -> T:
        with scope:
            return await work()
        raise asyncio.CancelledError  # only reached when `scope` was cancelled

    task = asyncio.ensure_future(body())
    try:
        return await asyncio.shield(task)
    except asyncio.CancelledError:
        scope.cancel()
        while not task.done():
            try:
                with anyio.CancelScope(shield=True):
                    await asyncio.wait({task})
            except asyncio.CancelledError:
                continue  # a further native cancel: keep waiting for the cleanup
        raise


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


async def _pump(stream: ByteReceiveStream | None, sinks: Sequence[OutputCap | None]) -> None:
    if stream is None:
        return
    try:
        while True:
            data = await stream.receive()
            for sink in sinks:
                if sink is not None:
                    sink.feed(data)
    except (anyio.EndOfStream, anyio.ClosedResourceError, anyio.BrokenResourceError):
        return


async def _read_all(proc: Process, out: OutputCap, err: OutputCap, view: OutputCap | None) -> bool:
    """Read both pipes to the end, for at most DRAIN_AFTER_EXIT s; True if cut short."""
    with anyio.move_on_after(DRAIN_AFTER_EXIT) as scope:
        async with anyio.create_task_group() as tg:
            tg.start_soon(_pump, proc.stdout, (out, view))
            tg.start_soon(_pump, proc.stderr, (err,))
    return scope.cancelled_caught


async def _show_live(view: OutputCap, live: LiveView) -> None:
    shown = 0
    while True:
        await anyio.sleep(LIVE_INTERVAL)
        if view.total != shown:
            shown = view.total
            await live(view.text())


async def _collect(
    supervised: Supervised, out: OutputCap, err: OutputCap, view: OutputCap | None, live: LiveView | None
) -> bool:
    proc = supervised.proc
    pumps_done = anyio.Event()
    left_open = False

    async def pumps() -> None:
        async with anyio.create_task_group() as inner:
            inner.start_soon(_pump, proc.stdout, (out, view))
            inner.start_soon(_pump, proc.stderr, (err,))
        pumps_done.set()

    async with anyio.create_task_group() as tg:
        tg.start_soon(pumps)
        if live is not None and view is not None:
            tg.start_soon(_show_live, view, live)
        await proc.wait()  # the supervisor exits once the command and all it left behind are gone
        await supervised.stopped()  # (and if it was killed instead, this kills the command's group)
        with anyio.move_on_after(DRAIN_AFTER_EXIT) as drain:
            await pumps_done.wait()
        left_open = drain.cancelled_caught
        tg.cancel_scope.cancel()
    return left_open


async def run_process(
    argv: Sequence[str],
    *,
    cwd: Path,
    env: Mapping[str, str] | None = None,
    time_limit: float,
    merge_stderr: bool = True,
    live: LiveView | None = None,
    head: int = OUTPUT_HEAD,
    tail: int = OUTPUT_TAIL,
) -> ProcessResult:
    """Run `argv` in `cwd` with empty stdin for at most `time_limit` s.

    `live` gets the latest output every LIVE_INTERVAL s while it runs. Raises OSError when
    the program cannot be started.
    """

    async def work() -> ProcessResult:
        return await _run(argv, cwd, env, time_limit, merge_stderr, live, head, tail)

    return await guarded(work)


async def _run(
    argv: Sequence[str],
    cwd: Path,
    env: Mapping[str, str] | None,
    time_limit: float,
    merge_stderr: bool,
    live: LiveView | None,
    head: int,
    tail: int,
) -> ProcessResult:
    started = time.monotonic()
    with anyio.CancelScope(shield=True):  # once started, the process is always ours to clean up
        supervised = await start_supervised(
            argv,
            cwd=cwd,
            env=env,
            grace=KILL_GRACE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT if merge_stderr else subprocess.PIPE,
        )
    proc = supervised.proc
    out = OutputCap(head, tail)
    err = OutputCap(head, tail)
    view = OutputCap(0, LIVE_BYTES) if live is not None else None
    try:
        with anyio.move_on_after(time_limit) as deadline:
            left_open = await _collect(supervised, out, err, view, live)
        if deadline.cancelled_caught:
            with anyio.CancelScope(shield=True):
                await supervised.stopped()
                left_open = await _read_all(proc, out, err, view)
    finally:
        with anyio.CancelScope(shield=True):
            # Cancelled, failed or done: nothing the command started may outlive the call.
            await supervised.stopped()
            supervised.forget()
            with anyio.move_on_after(KILL_GRACE + 1):
                await proc.aclose()
    code = proc.returncode
    sig = _signal_name(-code) if code is not None and code < 0 else None
    return ProcessResult(
        output=out.text(),
        errors=err.text(),
        exit_code=code if code is None or code >= 0 else None,
        signal=sig,
        timed_out=deadline.cancelled_caught,
        timeout=time_limit,
        duration=time.monotonic() - started,
        stream_left_open=left_open,
    )
