"""`grep`: a regular expression over the project's files (the index: .gitignore respected)."""

from __future__ import annotations

import re
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
from punie_acp.tools.errors import fails_softly
from punie_acp.tools.files import BINARY_PROBE, matches, resolve_or_fail, under
from punie_acp.workspace.root import PathRefused
from punie_acp.workspace.safeio import iter_lines, looks_binary, open_regular

MAX_MATCHES = 200
MAX_LOCATIONS = 50
MAX_FILE_BYTES = 8 * 1024 * 1024
MAX_MATCH_LINE_BYTES = 16 * 1024  # longer lines are searched in their first 16 KiB only
SHOWN_LINE_CHARS = 300


@dataclass
class Found:
    lines: list[str] = field(default_factory=list)
    locations: list[Location] = field(default_factory=list)
    files: int = 0
    skipped_large: int = 0
    skipped_binary: int = 0
    more: bool = False


def _scan(root: Path, targets: list[tuple[str, Path]], regex: re.Pattern[str]) -> Found:
    found = Found()
    for rel, path in targets:
        try:
            with open_regular(root, path) as handle:
                if looks_binary(handle.read(BINARY_PROBE)):
                    found.skipped_binary += 1
                    continue
                handle.seek(0)
                found.files += 1
                for number, (raw, _cut) in enumerate(iter_lines(handle, MAX_MATCH_LINE_BYTES), start=1):
                    line = raw.decode("utf-8", errors="replace").rstrip("\r\n")
                    if not regex.search(line):
                        continue
                    if len(found.lines) == MAX_MATCHES:
                        found.more = True
                        return found
                    shown = line if len(line) <= SHOWN_LINE_CHARS else line[:SHOWN_LINE_CHARS] + "…"
                    found.lines.append(f"{rel}:{number}: {shown}")
                    if len(found.locations) < MAX_LOCATIONS:
                        found.locations.append(Location(path, number))
        except (OSError, PathRefused):
            continue  # vanished or swapped since indexed: nothing to search
    return found


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
        regex = re.compile(pattern)
    except re.error as exc:
        raise ToolFailed(f"invalid regular expression {pattern!r}: {exc}") from exc
    base = resolve_or_fail(workspace, path)
    skipped_large = 0
    if base.is_file():
        targets = [(workspace.relative(base), base)]
    elif base.is_dir():
        rel_base = "" if base == workspace.root else workspace.relative(base)
        targets = []
        for rel, info in await workspace.index.files():
            if not under(rel, rel_base) or not matches(rel, glob):
                continue
            if info.size > MAX_FILE_BYTES:
                skipped_large += 1
                continue
            targets.append((rel, workspace.root / rel))
    else:
        raise ToolFailed(f"{path!r} does not exist; use list_files to find what does")
    found = await anyio.to_thread.run_sync(_scan, workspace.root, targets, regex, abandon_on_cancel=True)
    if ctx.tool_call_id is not None and found.locations:
        await ctx.deps.report(ctx.tool_call_id, locations=tuple(found.locations))
    notes = []
    if found.more:
        notes.append(f"stopped at {MAX_MATCHES} matches; narrow the pattern, path or glob")
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
    where = args.get("path") or "."
    glob = args.get("glob")
    return f"Search {pattern!r} in {where}" + (f" ({glob})" if glob else "") if pattern else "Search"


GREP = AgentTool(grep, kind="search", title=_title)
