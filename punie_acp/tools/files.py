"""Reading tools: `read_file` and `list_files`.

Whatever they return encodes and reads as what it is: undecodable bytes and lone surrogates
become U+FFFD (and the output says so), names that are not usable paths are shown escaped
and marked (see `workspace.text`), globs are matched with a time budget off the event loop.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import anyio
from pydantic_ai import RunContext
from pydantic_ai.exceptions import ToolFailed

from punie_acp.core.context import ToolContext
from punie_acp.core.tooling import AgentTool, path_location
from punie_acp.tools.errors import editor_read, fails_softly, resolve_or_fail
from punie_acp.workspace.patterns import Glob, PatternError, PatternTooSlow, glob_filter
from punie_acp.workspace.root import PathRefused
from punie_acp.workspace.safeio import iter_lines, looks_binary, open_regular
from punie_acp.workspace.text import encodable, path_is_plain, shown_path, shown_text

DEFAULT_LINE_LIMIT = 2000
MAX_LINE_CHARS = 2000
MAX_LIST_ENTRIES = 1000
MAX_LIST_CHARS = 200_000  # very long names: the listing stops growing here
BINARY_PROBE = 8192


def _cut(line: str) -> str:
    if len(line) <= MAX_LINE_CHARS:
        return line
    return line[:MAX_LINE_CHARS] + "…[line cut]\n"


def _decode(raw: bytes) -> tuple[str, bool]:
    """A line's text, and whether it held bytes that are not UTF-8 (shown as U+FFFD)."""
    try:
        return raw.decode("utf-8"), False
    except UnicodeDecodeError:
        return raw.decode("utf-8", errors="replace"), True


def _read_local(root: Path, target: Path, start: int, limit: int) -> tuple[list[str], bool, bool, int]:
    """Lines [start, start+limit) streamed from disk, whether more follow, whether it is binary,
    how many of the lines held undecodable bytes."""
    with open_regular(root, target) as handle:
        if looks_binary(handle.read(BINARY_PROBE)):
            return [], False, True, 0
        handle.seek(0)
        chosen: list[str] = []
        replaced = 0
        for number, (raw, cut) in enumerate(iter_lines(handle, MAX_LINE_CHARS * 4)):
            if number < start:
                continue
            if len(chosen) == limit:
                return chosen, True, False, replaced
            text, bad = _decode(raw)
            replaced += bad
            chosen.append(_cut(text) if not cut else text[:MAX_LINE_CHARS] + "…[line cut]\n")
    return chosen, False, False, replaced


def _probe_binary(root: Path, target: Path) -> bool:
    with open_regular(root, target) as handle:
        return looks_binary(handle.read(BINARY_PROBE))


async def _read_from_editor(
    deps: ToolContext, target: Path, path: str, offset: int, limit: int, notes: list[str]
) -> tuple[list[str], bool]:
    if await anyio.to_thread.run_sync(_probe_binary, deps.workspace.root, target):
        raise ToolFailed(f"{path!r} is a binary file; it cannot be read as text")
    # The editor's buffer is the truth: it may hold unsaved changes.
    text, surrogates = encodable(await editor_read(deps.host, target, path, line=offset, limit=limit + 1))
    if surrogates:
        notes.append(f"the editor sent {surrogates} invalid character(s) (lone surrogates); shown as U+FFFD")
    lines = [_cut(line) for line in text.splitlines(keepends=True)]
    return lines[:limit], len(lines) > limit


async def _read_from_disk(
    root: Path, target: Path, path: str, offset: int, limit: int, notes: list[str]
) -> tuple[list[str], bool]:
    lines, more, binary, replaced = await anyio.to_thread.run_sync(_read_local, root, target, offset - 1, limit)
    if binary:
        raise ToolFailed(f"{path!r} is a binary file; it cannot be read as text")
    if replaced:
        notes.append(f"{replaced} line(s) hold bytes that are not UTF-8; they are shown as U+FFFD")
    return lines, more


@fails_softly
async def read_file(ctx: RunContext[ToolContext], path: str, offset: int = 1, limit: int = DEFAULT_LINE_LIMIT) -> str:
    """Read a text file in the project.

    Args:
        path: File path, relative to the project root.
        offset: First line to read (1-based).
        limit: How many lines to read at most.
    """
    deps = ctx.deps
    workspace = deps.workspace
    target = resolve_or_fail(workspace, path)
    if target.is_dir():
        raise ToolFailed(f"{path!r} is a directory; use list_files to see what it holds")
    if not target.is_file():
        raise ToolFailed(f"{path!r} does not exist (or is not a regular file); use list_files to find it")
    offset = max(offset, 1)
    limit = max(min(limit, DEFAULT_LINE_LIMIT), 1)
    notes: list[str] = []
    try:
        if deps.host.capabilities.read_text_file:
            lines, more = await _read_from_editor(deps, target, path, offset, limit, notes)
        else:
            lines, more = await _read_from_disk(workspace.root, target, path, offset, limit, notes)
    except (PathRefused, OSError) as exc:
        raise ToolFailed(f"cannot read {path!r}: {exc}") from exc
    if not lines:
        return f"[{workspace.relative(target)}: no lines from line {offset}]"
    body = "".join(lines)
    last = offset + len(lines) - 1
    if more:
        notes.append(f"lines {offset}-{last}; more follow: read again with offset={last + 1}")
    if any("U+FFFD" in note for note in notes):
        notes.append("edit_file cannot match text around U+FFFD; replace whole lines with write_file")
    return body + "".join(f"\n[{note}]" for note in notes)


def compile_glob(pattern: str | None) -> Glob | None:
    """A model-supplied glob (None: match everything); `PatternError` if refused."""
    return Glob(pattern) if pattern else None


def under(rel: str, base: str) -> bool:
    return base == "" or rel.startswith(base + "/")


@fails_softly
async def list_files(ctx: RunContext[ToolContext], path: str = ".", pattern: str | None = None) -> str:
    """List files under a directory of the project (respects .gitignore).

    Args:
        path: Directory relative to the project root.
        pattern: Optional glob the file names must match, e.g. '*.py' or 'src/**/*.ts'.
    """
    workspace = ctx.deps.workspace
    try:
        glob = compile_glob(pattern)
    except PatternError as exc:
        raise ToolFailed(str(exc)) from exc
    base = resolve_or_fail(workspace, path)
    if not base.is_dir():
        raise ToolFailed(f"{path!r} is not a directory")
    rel_base = "" if base == workspace.root else workspace.relative(base)
    index = workspace.index
    below = [rel for rel, _info in await index.files() if under(rel, rel_base)]
    try:
        entries = await anyio.to_thread.run_sync(glob_filter, below, glob, abandon_on_cancel=True)
    except PatternTooSlow as exc:
        raise ToolFailed(f"{exc}; use a simpler pattern") from exc
    if not entries:
        if rel_base and index.rules().ignored(rel_base, True):
            return f"(no files: {rel_base}/ is excluded by .gitignore; read_file still reads files there)"
        return "(no files)"
    return _listing(entries, index.truncated)


def _listing(entries: list[str], truncated: bool) -> str:
    """One entry per line; names that are not usable paths escaped and marked, so none fakes a line."""
    lines: list[str] = []
    size = 0
    escaped = 0
    for rel in entries[:MAX_LIST_ENTRIES]:
        if path_is_plain(rel):
            line = rel
        else:
            escaped += 1
            line = f"{shown_path(rel)}  [escaped name]"
        size += len(line) + 1
        if size > MAX_LIST_CHARS:
            break
        lines.append(line)
    if len(lines) < len(entries):
        lines.append(f"[first {len(lines)} of {len(entries)} entries shown; narrow path or pattern]")
    if escaped:
        lines.append(
            f"[{escaped} name(s) marked [escaped name] hold bytes or characters (\\xNN, \\uNNNN) that are not "
            "usable in a path; tools cannot open them by name]"
        )
    if truncated:
        lines.append("[the project is very large: only part of it is indexed]")
    return "\n".join(lines)


def _title(verb: str, key: str = "path") -> Any:
    def title(args: Mapping[str, Any]) -> str:
        value = args.get(key)
        return f"{verb} {shown_text(value, 200)}" if value else verb

    return title


READ_FILE = AgentTool(read_file, kind="read", title=_title("Read"), locate=path_location("path", "offset"))
LIST_FILES = AgentTool(list_files, kind="search", title=_title("List"), locate=path_location("path"))
