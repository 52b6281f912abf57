"""`grep`: a regular expression over the project's files (the index: .gitignore respected).

The pattern runs on the `regex` module with a time budget per line and the GIL released
(see `workspace.patterns`): a pattern that backtracks catastrophically fails the call with a
message, the event loop never waits on it, and a cancelled turn stops the scan at the next
line. Scans run on their own small thread pool, so an abandoned one never holds a thread
that file reads, writes or commands need. Every shown line and path is escaped so that it
encodes and reads as one line (`workspace.text`).
"""

from __future__ import annotations

import asyncio
import threading
import time
import weakref
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
from pydantic_ai import RunContext
from pydantic_ai.exceptions import ToolFailed

from punie_acp.core.context import ToolContext
from punie_acp.core.events import Location
from punie_acp.core.tooling import AgentTool
from punie_acp.tools.errors import fails_softly, resolve_or_fail
from punie_acp.tools.files import BINARY_PROBE, compile_glob, under
from punie_acp.workspace.patterns import (
    LINE_SECONDS,
    PatternError,
    PatternTooSlow,
    compile_search,
    glob_filter,
    search_line,
)
from punie_acp.workspace.root import PathRefused
from punie_acp.workspace.safeio import iter_lines, looks_binary, open_regular
from punie_acp.workspace.text import path_is_plain, shown_path, shown_text

MAX_MATCHES = 200
MAX_LOCATIONS = 50
MAX_FILE_BYTES = 8 * 1024 * 1024
MAX_MATCH_LINE_BYTES = 16 * 1024  # longer lines are searched in their first 16 KiB only
SHOWN_LINE_CHARS = 300
SCAN_SECONDS = 60.0  # a whole search; past it, what was found so far is returned
MAX_SLOW_LINES = 5  # lines over LINE_SECONDS before the pattern is given up on
SCAN_THREADS = 4
# Scans have their own threads (per event loop): abandoned ones (cancelled turns) finish
# their current line there, not in the default pool that file reads and commands share.
_limiters: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, anyio.CapacityLimiter] = weakref.WeakKeyDictionary()


def _scan_threads() -> anyio.CapacityLimiter:
    loop = asyncio.get_running_loop()
    if loop not in _limiters:
        _limiters[loop] = anyio.CapacityLimiter(SCAN_THREADS)
    return _limiters[loop]


@dataclass
class Found:
    lines: list[str] = field(default_factory=list)
    locations: list[Location] = field(default_factory=list)
    files: int = 0
    skipped_large: int = 0
    skipped_binary: int = 0
    more: bool = False
    out_of_time: bool = False
    slow: list[str] = field(default_factory=list)  # 'file:line' where the pattern ran out of time
    deadline: float = field(default_factory=lambda: time.monotonic() + SCAN_SECONDS)


class _Stop(Exception):
    pass


def _scan(root: Path, targets: list[tuple[str, Path]], compiled: Any, stop: threading.Event) -> Found:
    found = Found()
    try:
        for rel, path in targets:
            try:
                _scan_file(root, rel, path, compiled, stop, found)
            except (OSError, PathRefused):
                continue  # vanished or swapped since indexed: nothing to search
    except _Stop:
        pass
    return found


def _scan_file(root: Path, rel: str, path: Path, compiled: Any, stop: threading.Event, found: Found) -> None:
    with open_regular(root, path) as handle:
        if looks_binary(handle.read(BINARY_PROBE)):
            found.skipped_binary += 1
            return
        handle.seek(0)
        found.files += 1
        for number, (raw, _cut) in enumerate(iter_lines(handle, MAX_MATCH_LINE_BYTES), start=1):
            if stop.is_set():  # the turn was cancelled: this thread was abandoned
                raise _Stop
            if time.monotonic() > found.deadline:
                found.out_of_time = True
                raise _Stop
            line = raw.decode("utf-8", errors="replace").rstrip("\r\n")
            try:
                if not search_line(compiled, line):
                    continue
            except PatternTooSlow:
                found.slow.append(f"{shown_path(rel)}:{number}")
                if len(found.slow) >= MAX_SLOW_LINES:
                    raise _Stop from None
                continue
            if len(found.lines) == MAX_MATCHES:
                found.more = True
                raise _Stop
            found.lines.append(f"{shown_path(rel)}:{number}: {shown_text(line, SHOWN_LINE_CHARS)}")
            # The editor gets only paths it can be sent and shown as they are.
            if len(found.locations) < MAX_LOCATIONS and path_is_plain(rel):
                found.locations.append(Location(path, number))


@fails_softly
async def grep(ctx: RunContext[ToolContext], pattern: str, path: str = ".", glob: str | None = None) -> str:
    """Search file contents with a regular expression (Python syntax; '(?i)' ignores case).

    Respects .gitignore and skips binary files. Returns 'file:line: text' for each match.

    Args:
        pattern: Regular expression to look for in each line.
        path: File or directory to search, relative to the project root.
        glob: Optional glob the files must match, e.g. '*.py' or 'tests/**/*.py'.
    """
    workspace = ctx.deps.workspace
    try:
        compiled = await anyio.to_thread.run_sync(compile_search, pattern, limiter=_scan_threads())
        files_glob = compile_glob(glob)
    except PatternError as exc:
        raise ToolFailed(f"{exc} (pattern {shown_text(pattern, 120)!r})") from exc
    base = resolve_or_fail(workspace, path)
    skipped_large = 0
    if base.is_file():
        targets = [(workspace.relative(base), base)]
    elif base.is_dir():
        rel_base = "" if base == workspace.root else workspace.relative(base)
        sizes = {rel: info.size for rel, info in await workspace.index.files() if under(rel, rel_base)}
        try:
            chosen = await anyio.to_thread.run_sync(
                glob_filter, list(sizes), files_glob, abandon_on_cancel=True, limiter=_scan_threads()
            )
        except PatternTooSlow as exc:
            raise ToolFailed(f"{exc}; use a simpler glob") from exc
        targets = []
        for rel in chosen:
            if sizes[rel] > MAX_FILE_BYTES:
                skipped_large += 1
                continue
            targets.append((rel, workspace.root / rel))
    else:
        raise ToolFailed(f"{path!r} does not exist; use list_files to find what does")
    stop = threading.Event()
    try:
        found = await anyio.to_thread.run_sync(
            _scan, workspace.root, targets, compiled, stop, abandon_on_cancel=True, limiter=_scan_threads()
        )
    finally:
        stop.set()  # cancelled: the abandoned scan ends after its current line
    if found.slow:
        where = ", ".join(found.slow[:3])
        raise ToolFailed(
            f"the pattern took more than {LINE_SECONDS:g} s on a single line ({where}): it backtracks "
            "catastrophically. Simplify it: avoid nested or overlapping repetition such as (a+)+ or (a|a)*"
        )
    if ctx.tool_call_id is not None and found.locations:
        await ctx.deps.report(ctx.tool_call_id, locations=tuple(found.locations))
    notes = []
    if found.more:
        notes.append(f"stopped at {MAX_MATCHES} matches; narrow the pattern, path or glob")
    if found.out_of_time:
        notes.append(f"stopped after {SCAN_SECONDS:.0f} s; narrow the path or glob to search the rest")
    if skipped_large:
        notes.append(f"{skipped_large} file(s) over {MAX_FILE_BYTES // (1024 * 1024)} MiB not searched")
    if found.skipped_binary:
        notes.append(f"{found.skipped_binary} binary file(s) skipped")
    tail = "".join(f"\n[{note}]" for note in notes)
    if not found.lines:
        return f"(no matches in {found.files} file(s))" + tail
    return "\n".join(found.lines) + tail


def _title(args: Mapping[str, Any]) -> str:
    pattern = args.get("pattern")
    if not pattern:
        return "Search"
    where = shown_text(args.get("path") or ".", 200)
    glob = args.get("glob")
    return f"Search '{shown_text(pattern, 200)}' in {where}" + (f" ({shown_text(glob, 100)})" if glob else "")


GREP = AgentTool(grep, kind="search", title=_title)
