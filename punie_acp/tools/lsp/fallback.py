"""Text-search answers when no language server can answer: labelled as such, never passed off as resolved.

Only where text matching is an honest approximation: a definition (`def`/`class`/assignment
of the name), references (whole-word matches) and symbols by name. Hover, implementations,
call hierarchy and diagnostics have no honest text equivalent and fail with the server's reason.
"""

from __future__ import annotations

import re
from pathlib import Path

import anyio

from punie_acp.core.context import ToolContext
from punie_acp.tools.lsp.positions import word_at
from punie_acp.workspace.root import PathRefused
from punie_acp.workspace.safeio import read_bytes

MAX_FILES = 5000
MAX_FILE_BYTES = 1024 * 1024
MAX_HITS = 30
_SERVER_PROBLEMS = (
    "not installed", "not found", "stopped twice", "refused", "could not be started", "shut down", "server stopped:",
)  # fmt: skip


async def _word(deps: ToolContext, path: str, line: int, column: int) -> str:
    try:
        target = deps.workspace.resolve(path)
        data = await anyio.to_thread.run_sync(read_bytes, deps.workspace.root, target, MAX_FILE_BYTES)
    except (OSError, PathRefused):
        return ""
    return word_at(data.decode("utf-8", errors="replace"), line, max(column, 1))


def _pattern(what: str, name: str) -> re.Pattern[str]:
    word = re.escape(name)
    if what.startswith("definition"):
        return re.compile(rf"^\s*(?:async\s+)?(?:def|class)\s+{word}\b|^\s*{word}\s*(?::[^=]*)?=")
    if what == "symbols":
        return re.compile(rf"^\s*(?:async\s+)?(?:def|class)\s+\w*{word}\w*", re.IGNORECASE)
    return re.compile(rf"(?<!\w){word}(?!\w)")


def _search(root: Path, files: list[str], pattern: re.Pattern[str]) -> list[str]:
    hits: list[str] = []
    for rel in files[:MAX_FILES]:
        try:
            text = read_bytes(root, root / rel, MAX_FILE_BYTES).decode("utf-8", errors="replace")
        except (OSError, PathRefused):
            continue
        for number, line in enumerate(text.splitlines(), 1):
            if pattern.search(line):
                hits.append(f"{rel}:{number}: {line.strip()[:160]}")
                if len(hits) >= MAX_HITS:
                    return hits
    return hits


async def answer(
    deps: ToolContext, what: str, path: str, symbol: str, why: str, line: int = 0, column: int = 0
) -> str | None:
    """grep's answer, said to be one; None when a fallback would not be honest (or the failure is the caller's)."""
    if not symbol and path and line > 0 and any(problem in why for problem in _SERVER_PROBLEMS):
        symbol = await _word(deps, path, line, column)
    name = symbol.rsplit(".", 1)[-1].strip()
    if not any(problem in why for problem in _SERVER_PROBLEMS) or not re.fullmatch(r"\w{1,200}", name):
        return None
    suffix = Path(path).suffix if path else ".py"
    files = [rel for rel, _ in await deps.workspace.index.files() if rel.endswith(suffix)]
    hits = await anyio.to_thread.run_sync(_search, deps.workspace.root, files, _pattern(what, name))
    head = f"no language server ({why}). These are text matches from grep for {name!r}, not resolved {what}:"
    return head + ("\n" + "\n".join(hits) if hits else "\n(no matches)")
