"""The server's side of `supervisor.py`: start a command under it, stop it, stop them all.

Every local subprocess a tool runs goes through `start_supervised`. The server keeps the write
end of each supervisor's control pipe; closing it tells the supervisor to kill everything the
command started. The same happens without our help when the server dies (the kernel closes the
pipe), so even SIGKILL of the server leaves no command running on Linux. `reaping` wraps the
server's main coroutine so that SIGTERM, SIGINT, SIGHUP and a normal end (stdin EOF) stop every
supervised command and wait for it before the process exits.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys
from collections.abc import Awaitable, Callable, Mapping, Sequence
from pathlib import Path
from typing import TypeVar

import anyio
from anyio.abc import Process

log = logging.getLogger(__name__)

SUPERVISOR = Path(__file__).with_name("supervisor.py")
STOP_SLACK = 3.0  # seconds beyond the kill grace before the supervisor itself is killed
SHUTDOWN_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)
T = TypeVar("T")


class Supervised:
    """One command under its supervisor: the supervisor process and the pipe that keeps it going."""

    def __init__(self, proc: Process, control_fd: int, status_fd: int, grace: float) -> None:
        self.proc = proc
        self.command_pid = 0
        self._control_fd: int | None = control_fd
        self._status_fd: int | None = status_fd
        self._grace = grace

    def stop(self) -> None:
        """Ask the supervisor to kill everything the command started (idempotent, never blocks)."""
        fd, self._control_fd = self._control_fd, None
        if fd is not None:
            os.close(fd)

    async def stopped(self) -> None:
        """Stop, then wait until the supervisor has killed everything and exited (quick when it has)."""
        self.stop()
        with anyio.move_on_after(self._grace + STOP_SLACK) as waited:
            await self.proc.wait()
        if waited.cancelled_caught:  # the supervisor is stuck or stopped (SIGSTOP)
            log.warning("supervisor %s did not exit; killing it", self.proc.pid)
            _kill(os.kill, self.proc.pid)
            with anyio.move_on_after(STOP_SLACK):
                await self.proc.wait()
        if not self._finished_cleanly():
            # Killed before it could clean up (e.g. by the command itself): kill the command's group.
            log.warning("supervisor %s died early; killing process group %s", self.proc.pid, self.command_pid)
            _kill(os.killpg, self.command_pid)

    def _finished_cleanly(self) -> bool:
        """Whether the supervisor reported "done" (it writes that after killing everything)."""
        fd, self._status_fd = self._status_fd, None
        if fd is None:
            return True  # already checked
        os.set_blocking(fd, False)
        try:
            return b"done" in _read_until_eof(fd)
        except BlockingIOError:  # the write end is still open: the supervisor did not exit
            return False

    def forget(self) -> None:
        _live.discard(self)
        self.stop()
        fd, self._status_fd = self._status_fd, None
        if fd is not None:
            os.close(fd)


def _kill(kill: Callable[[int, int], None], pid: int) -> None:
    if pid:
        with contextlib.suppress(OSError):  # already gone
            kill(pid, signal.SIGKILL)


_live: set[Supervised] = set()


def _read_until_eof(fd: int) -> bytes:
    """All of a pipe, then close it (BlockingIOError, fd left open, when non-blocking and not at EOF)."""
    chunks = []
    while chunk := os.read(fd, 4096):
        chunks.append(chunk)
    os.close(fd)
    return b"".join(chunks)


def _read_line(fd: int) -> bytes:
    """The first line written to a blocking pipe (or what came before EOF)."""
    line = b""
    while not line.endswith(b"\n") and (byte := os.read(fd, 1)):
        line += byte
    return line


async def start_supervised(
    argv: Sequence[str],
    *,
    cwd: Path,
    env: Mapping[str, str] | None,
    grace: float,
    stdout: int,
    stderr: int,
    stdin: int | None = None,
) -> Supervised:
    """Start `argv` in `cwd` under a supervisor. Raises OSError when the command cannot be started.

    `stdin`: a pipe's read end for the command's stdin (else it gets an empty one); the caller closes its copy.

    Call from a shielded scope: once started, the caller owns the result and must `forget` it.
    """
    status_read, status_write = os.pipe()
    control_read, control_write = os.pipe()
    supervisor = [sys.executable, "-I", "-S", str(SUPERVISOR), str(status_write), str(os.getpid()), repr(grace)]
    given = ["--stdin-fd", str(stdin)] if stdin is not None else []
    try:
        proc = await anyio.open_process(
            [*supervisor, str(cwd), *given, "--", *argv],
            cwd="/",  # the supervisor runs nowhere near the project; only the command does
            env=dict(env) if env is not None else None,
            stdin=control_read,
            stdout=stdout,
            stderr=stderr,
            start_new_session=True,
            pass_fds=(status_write,) if stdin is None else (status_write, stdin),
        )
    except BaseException:
        os.close(control_write)
        os.close(status_read)
        raise
    finally:
        os.close(status_write)
        os.close(control_read)
    supervised = Supervised(proc, control_write, status_read, grace)
    _live.add(supervised)
    first = await anyio.to_thread.run_sync(_read_line, status_read)
    kind, _, rest = first.decode("utf-8", errors="replace").rstrip("\n").partition("\t")
    if kind == "pid" and rest.isdigit():
        supervised.command_pid = int(rest)
        second = await anyio.to_thread.run_sync(_read_line, status_read)
        kind, _, rest = second.decode("utf-8", errors="replace").rstrip("\n").partition("\t")
    if kind == "ok" or (kind == "" and supervised.command_pid):  # "": it ran and killed us already
        return supervised
    if kind == "error":
        supervised.command_pid = 0  # it never ran: there is no process group to clean up
    await supervised.stopped()
    supervised.forget()
    if kind == "error":
        number, strerror, filename = [*rest.split("\t", 2), "", ""][:3]
        raise OSError(int(number) if number.isdigit() else 0, strerror, filename or None)
    raise OSError(f"the process supervisor did not start (exit status {proc.returncode})")


async def stop_all() -> None:
    """Stop every supervised command and wait for each (they stop in parallel)."""
    running = list(_live)
    for supervised in running:
        supervised.stop()
    async with anyio.create_task_group() as tg:
        for supervised in running:
            tg.start_soon(supervised.stopped)
    for supervised in running:
        supervised.forget()


async def reaping(main: Awaitable[T]) -> T:
    """Run the process's main coroutine; no supervised command outlives it.

    SIGTERM, SIGINT and SIGHUP cancel `main`; then, and after any other end, every command still
    running is stopped and waited for. A signal ends the process with exit status 128 + signal.
    """
    loop = asyncio.get_running_loop()
    task = asyncio.ensure_future(main)
    received: list[int] = []

    def on_signal(number: int) -> None:
        if not received:
            log.info("received %s: stopping", signal.Signals(number).name)
            received.append(number)
            task.cancel()

    for number in SHUTDOWN_SIGNALS:
        loop.add_signal_handler(number, on_signal, number)
    try:
        try:
            result = await task
        except asyncio.CancelledError:
            if not received:
                raise
    finally:
        for number in SHUTDOWN_SIGNALS:
            loop.remove_signal_handler(number)
        with anyio.CancelScope(shield=True):
            await stop_all()
    if received:  # `main` may have swallowed the cancel (the ACP SDK's receive loop does)
        raise SystemExit(128 + received[0])
    return result
