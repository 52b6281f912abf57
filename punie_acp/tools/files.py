"""Reading tools: `read_file` and `list_files`."""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import anyio
from pydantic_ai import RunContext
from pydantic_ai.exceptions import ToolFailed

from punie_acp.core.context import ToolContext
from punie_acp.core.tooling import AgentTool, path_location
from punie_acp.tools.errors import editor_read, fails_softly
from punie_acp.workspace.root import PathRefused, Workspace
from punie_acp.workspace.safeio import iter_lines, looks_binary, open_regular

DEFAULT_LINE_LIMIT = 2000
MAX_LINE_CHARS = 2000
MAX_LIST_ENTRIES = 1000
BINARY_PROBE = 8192


def resolve_or_fail(workspace: Workspace, path: str | None, *, for_write: bool = False) -> Path:
    try:
        return workspace.resolve(path, for_write=for_write)
    except PathRefused as exc:
        raise ToolFailed(str(exc)) from exc


def _cut(line: str) -> str:
    if len(line) <= MAX_LINE_CHARS:
        return line
    return line[:MAX_LINE_CHARS] + "…[line cut]\n"


def _read_local(root: Path, target: Path, start: int, limit: int) -> tuple[list[str], bool, bool]:
    """Lines [start, start+limit) streamed from disk, whether more follow, whether it is binary."""
    with open_regular(root, target) as handle:
        if looks_binary(handle.read(BINARY_PROBE)):
            return [], False, True
        handle.seek(0)
        chosen: list[str] = []
        for number, (raw, cut) in enumerate(iter_lines(handle, MAX_LINE_CHARS * 4)):
            if number < start:
                continue
            if len(chosen) == limit:
                return chosen, True, False
            text = raw.decode("utf-8", errors="replace")
            chosen.append(_cut(text) if not cut else text[:MAX_LINE_CHARS] + "…[line cut]\n")
    return chosen, False, False


def _probe_binary(root: Path, target: Path) -> bool:
    with open_regular(root, target) as handle:
        return looks_binary(handle.read(BINARY_PROBE))


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
    try:
        if deps.host.capabilities.read_text_file:
            if await anyio.to_thread.run_sync(_probe_binary, workspace.root, target):
                raise ToolFailed(f"{path!r} is a binary file; it cannot be read as text")
            # The editor's buffer is the truth: it may hold unsaved changes.
            text = await editor_read(deps.host, target, path, line=offset, limit=limit + 1)
            lines = [_cut(line) for line in text.splitlines(keepends=True)]
            more = len(lines) > limit
            lines = lines[:limit]
        else:
            lines, more, binary = await anyio.to_thread.run_sync(_read_local, workspace.root, target, offset - 1, limit)
            if binary:
                raise ToolFailed(f"{path!r} is a binary file; it cannot be read as text")
    except (PathRefused, OSError) as exc:
        raise ToolFailed(f"cannot read {path!r}: {exc}") from exc
    if not lines:
        return f"[{workspace.relative(target)}: no lines from line {offset}]"
    body = "".join(lines)
    last = offset + len(lines) - 1
    footer = f"\n[lines {offset}-{last}; more follow: read again with offset={last + 1}]" if more else ""
    return body + footer


def matches(rel: str, pattern: str | None) -> bool:
    """A glob against the relative path or the bare name ('*.py', 'src/**/*.ts')."""
    if not pattern:
        return True
    name = rel.rsplit("/", 1)[-1]
    return fnmatch.fnmatchcase(rel, pattern) or fnmatch.fnmatchcase(name, pattern)


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
    base = resolve_or_fail(workspace, path)
    if not base.is_dir():
        raise ToolFailed(f"{path!r} is not a directory")
    rel_base = "" if base == workspace.root else workspace.relative(base)
    index = workspace.index
    entries = [rel for rel, _info in await index.files() if under(rel, rel_base) and matches(rel, pattern)]
    if not entries:
        if rel_base and index.rules().ignored(rel_base, True):
            return f"(no files: {rel_base}/ is excluded by .gitignore; read_file still reads files there)"
        return "(no files)"
    shown = "\n".join(entries[:MAX_LIST_ENTRIES])
    if len(entries) > MAX_LIST_ENTRIES:
        shown += f"\n[first {MAX_LIST_ENTRIES} of {len(entries)} entries shown; narrow path or pattern]"
    if index.truncated:
        shown += "\n[the project is very large: only part of it is indexed]"
    return shown


def _title(verb: str, key: str = "path") -> Any:
    def title(args: Mapping[str, Any]) -> str:
        value = args.get(key)
        return f"{verb} {value}" if value else verb

    return title


READ_FILE = AgentTool(read_file, kind="read", title=_title("Read"), locate=path_location("path", "offset"))
LIST_FILES = AgentTool(list_files, kind="search", title=_title("List"), locate=path_location("path"))
