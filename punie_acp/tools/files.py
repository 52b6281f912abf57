"""Reading tools: `read_file` and `list_files`."""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import anyio
from pydantic_ai import RunContext
from pydantic_ai.exceptions import ToolFailed

from punie_acp.core.context import ToolContext
from punie_acp.tools.listing import list_tree
from punie_acp.tools.spec import AgentTool, path_location
from punie_acp.tools.workspace import PathRefused

DEFAULT_LINE_LIMIT = 2000
MAX_LINE_CHARS = 2000
MAX_LIST_ENTRIES = 1000


def looks_binary(path: Path) -> bool:
    with path.open("rb") as handle:
        return b"\x00" in handle.read(8192)


def _read_range(path: Path, start: int, limit: int) -> tuple[list[str], bool]:
    """Lines [start, start+limit) without loading the whole file; also whether more follow."""
    with path.open("r", encoding="utf-8", errors="replace", newline="") as handle:
        chosen = list(itertools.islice(handle, start, start + limit + 1))
    more = len(chosen) > limit
    return chosen[:limit], more


async def read_file(ctx: RunContext[ToolContext], path: str, offset: int = 1, limit: int = DEFAULT_LINE_LIMIT) -> str:
    """Read a text file in the project.

    Args:
        path: File path, relative to the project root.
        offset: First line to read (1-based).
        limit: How many lines to read at most.
    """
    deps = ctx.deps
    try:
        target = deps.workspace.resolve(path)
    except PathRefused as exc:
        raise ToolFailed(str(exc)) from exc
    if target.is_dir():
        raise ToolFailed(f"{path!r} is a directory; use list_files to see what it holds")
    if not target.is_file():
        raise ToolFailed(f"{path!r} does not exist (or is not a regular file); use list_files to find it")
    offset = max(offset, 1)
    limit = max(min(limit, DEFAULT_LINE_LIMIT), 1)
    if await anyio.to_thread.run_sync(looks_binary, target):
        raise ToolFailed(f"{path!r} is a binary file; it cannot be read as text")
    if deps.host.capabilities.read_text_file:
        # The editor's buffer is the truth: it may hold unsaved changes.
        text = await deps.host.read_text_file(target, line=offset, limit=limit + 1)
        lines = text.splitlines(keepends=True)
        more = len(lines) > limit
        lines = lines[:limit]
    else:
        lines, more = await anyio.to_thread.run_sync(_read_range, target, offset - 1, limit)
    body = "".join(line if len(line) <= MAX_LINE_CHARS else line[:MAX_LINE_CHARS] + "…[line cut]\n" for line in lines)
    if not lines:
        return f"[{deps.workspace.relative(target)}: no lines from line {offset}]"
    last = offset + len(lines) - 1
    footer = f"\n[lines {offset}-{last}; more follow: read again with offset={last + 1}]" if more else ""
    return body + footer


async def list_files(ctx: RunContext[ToolContext], path: str = ".", pattern: str | None = None) -> str:
    """List files under a directory of the project (respects .gitignore).

    Args:
        path: Directory relative to the project root.
        pattern: Optional glob the file names must match, e.g. '*.py' or 'src/**/*.ts'.
    """
    deps = ctx.deps
    try:
        base = deps.workspace.resolve(path)
    except PathRefused as exc:
        raise ToolFailed(str(exc)) from exc
    if not base.is_dir():
        raise ToolFailed(f"{path!r} is not a directory")
    entries = await anyio.to_thread.run_sync(list_tree, deps.workspace, base, pattern, MAX_LIST_ENTRIES + 1)
    if not entries:
        return "(no files)"
    cut = len(entries) > MAX_LIST_ENTRIES
    shown = "\n".join(entries[:MAX_LIST_ENTRIES])
    return shown + (f"\n[first {MAX_LIST_ENTRIES} entries shown; narrow path or pattern]" if cut else "")


def _title(verb: str, key: str = "path") -> Any:
    def title(args: Mapping[str, Any]) -> str:
        value = args.get(key)
        return f"{verb} {value}" if value else verb

    return title


READ_FILE = AgentTool(read_file, kind="read", title=_title("Read"), locate=path_location("path", "offset"))
LIST_FILES = AgentTool(list_files, kind="search", title=_title("List"), locate=path_location("path"))
