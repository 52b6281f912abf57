"""`punie ask`'s human view: the answer on stdout, thoughts and tool progress on stderr."""

from __future__ import annotations

import os
from typing import TextIO

from punie_acp.core.events import Event, TextDelta, ThoughtDelta, ToolFinished, ToolStarted, TurnEnded
from punie_acp.core.host import PermissionOutcome, PermissionRequest


class Console:
    """Shows a turn's events: the answer on `out`, thoughts and tool calls on `err`."""

    def __init__(self, out: TextIO, err: TextIO) -> None:
        self._out = out
        self._err = err
        self._err_at_line_start = True
        self._wrote_answer = False
        self.reader_gone = False  # `punie ask … | head`: the reader took what it wanted

    def started(self, session_id: str, model: str, cwd: str, mode: str) -> None:
        """Nothing to show: the first thought or answer says the turn began."""

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

    def permission_asked(self, request: PermissionRequest) -> None:
        self._end_err_line()

    def permission_answered(self, request: PermissionRequest, outcome: PermissionOutcome) -> None:
        self._err_at_line_start = True  # the question ended its line

    def finish(self, ended: TurnEnded | None, code: int, error: str | None) -> None:
        if self._wrote_answer and not self.reader_gone:
            self._write_out("\n")
        self._end_err_line()
        if error is not None:
            self._write_err(f"punie: {error}\n")
        elif ended is not None and ended.stop_reason != "end_turn":
            self._write_err(f"punie: turn ended: {ended.stop_reason}\n")

    def _write_out(self, text: str) -> None:
        try:
            self._out.write(text)
            self._out.flush()
        except BrokenPipeError:
            self.reader_gone = True
            silence(self._out)
            raise  # the core ends the turn: nobody reads the answer

    def _write_err(self, text: str) -> None:
        if text:
            self._err.write(text)
            self._err.flush()
            self._err_at_line_start = text.endswith("\n")

    def _end_err_line(self) -> None:
        if not self._err_at_line_start:
            self._write_err("\n")


def silence(out: TextIO) -> None:
    """The reader of `out` is gone: nothing more can be written there, not even by the
    interpreter's flush at exit."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, out.fileno())
    os.close(devnull)
