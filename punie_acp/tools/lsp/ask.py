"""Asking a file's language server about a position, and showing its answers compactly.

Every path in goes through the workspace resolver; every path out does too: a location inside
the root is shown relative, with its line's text, and offered to the editor as a tool-call
location; one outside (site-packages, the standard library) is shown absolute and marked
read-only, and is never offered for editing nor read by punie.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
from pydantic_ai.exceptions import ToolFailed

from punie_acp.core.context import ToolContext
from punie_acp.core.events import Location
from punie_acp.tools.lsp import pool
from punie_acp.tools.lsp.positions import Position, char_column, find_symbol, line_of, path_to_uri, to_lsp, uri_to_path
from punie_acp.tools.lsp.server import CodeIntelError, LanguageServer, Restarted
from punie_acp.tools.lsp.servers import ServerUnavailable, spec_for
from punie_acp.workspace.root import PathRefused
from punie_acp.workspace.safeio import read_bytes

MAX_FILE_BYTES = 4 * 1024 * 1024
MAX_RESULTS = 50
MAX_LINE_CHARS = 160
OUTSIDE = "(outside the project: read-only)"


def server_of(deps: ToolContext, path: Path) -> LanguageServer:
    try:
        spec = spec_for(path, deps.settings.language_servers)
    except ServerUnavailable as exc:
        raise ToolFailed(str(exc)) from None
    if spec is None:
        raise ToolFailed(
            f"no language server handles {path.suffix or 'extensionless'} files; set one in the user-level"
            " language_servers setting (e.g. '.rs=rust-analyzer'), or use grep"
        )
    return pool.server_for(deps.workspace.root, spec, deps.session_id)


def read_text(root: Path, path: Path) -> str:
    """A file's text, read race-safely inside the root (blocking)."""
    return read_bytes(root, path, MAX_FILE_BYTES).decode("utf-8", errors="replace")


async def file_text(deps: ToolContext, path: Path) -> str:
    try:
        return await anyio.to_thread.run_sync(read_text, deps.workspace.root, path)
    except FileNotFoundError:
        raise ToolFailed(f"{deps.workspace.relative(path)!r} does not exist") from None
    except IsADirectoryError:
        raise ToolFailed(f"{deps.workspace.relative(path)!r} is a directory; give a file") from None


def position_in(text: str, line: int, column: int, symbol: str, shown: str) -> Position:
    try:
        if symbol:
            return find_symbol(text, symbol)
        if line < 1:
            raise ValueError("give line and column (1-based) or symbol")
        return to_lsp(text, line, max(column, 1))
    except ValueError as exc:
        raise ToolFailed(f"{shown}: {exc}") from None


async def ask(deps: ToolContext, server: LanguageServer, path: Path, method: str, params: Callable[[], Any]) -> Any:
    """Send the file's current text, then the request; once more after a crash restarted the server."""
    for attempt in range(2):
        try:
            await server.refresh(lambda p: read_text(deps.workspace.root, p))
            text = await file_text(deps, path)
            await server.sync(path, text)
            return await server.request(method, params())
        except Restarted:
            if attempt == 1 or server.failure:
                break
        except CodeIntelError as exc:
            raise ToolFailed(str(exc)) from None
    raise ToolFailed(server.failure or f"{server.spec.name} stopped while answering; try again")


def text_document(path: Path, at: Position) -> dict[str, Any]:
    return {"textDocument": {"uri": path_to_uri(path)}, "position": at.as_lsp()}


@dataclass
class Shown:
    """Result lines for the model and the in-root locations for the editor."""

    lines: list[str] = field(default_factory=list)
    locations: list[Location] = field(default_factory=list)
    _texts: dict[Path, str] = field(default_factory=dict)

    def inside(self, deps: ToolContext, uri: Any) -> Path | None:
        path = uri_to_path(uri) if isinstance(uri, str) else None
        if path is None:
            return None
        try:
            resolved = deps.workspace.resolve(str(path))
        except PathRefused:
            return None
        return resolved if resolved.is_file() else None

    def add(self, deps: ToolContext, uri: Any, start: Any, note: str = "") -> None:
        line, character = _position(start)
        path = self.inside(deps, uri)
        if path is None:
            where = uri_to_path(uri) if isinstance(uri, str) else None
            shown = str(where) if where else str(uri)[:200]
            self.lines.append(f"{shown}:{line + 1}:{character + 1} {OUTSIDE}{note}")
            return
        text = self._texts.get(path)
        if text is None:
            try:
                text = self._texts[path] = read_text(deps.workspace.root, path)
            except (OSError, PathRefused):
                text = self._texts[path] = ""
        current = line_of(text, line)
        snippet = current.strip()
        if len(snippet) > MAX_LINE_CHARS:
            snippet = snippet[:MAX_LINE_CHARS] + "…"
        column = char_column(current, character)
        self.lines.append(f"{deps.workspace.relative(path)}:{line + 1}:{column}{note}: {snippet}")
        self.locations.append(Location(path, line + 1))


def _position(start: Any) -> tuple[int, int]:
    if isinstance(start, dict):
        line, character = start.get("line"), start.get("character")
        if isinstance(line, int) and isinstance(character, int) and line >= 0 and character >= 0:
            return min(line, 10**9), min(character, 10**9)
    return 0, 0


def start_of(item: Any, *keys: str) -> Any:
    """`item[key]["start"]` for the first key present (a range)."""
    for key in keys:
        value = item.get(key) if isinstance(item, dict) else None
        if isinstance(value, dict):
            return value.get("start")
    return None


def as_list(result: Any) -> list[Any]:
    if result is None:
        return []
    return result if isinstance(result, list) else [result]


Entry = tuple[Any, Any, str]  # a result's uri, its start position, a note after the position


def location_entries(result: Any) -> list[Entry]:
    """Location | Location[] | LocationLink[] as entries (at most MAX_RESULTS)."""
    entries: list[Entry] = []
    for item in as_list(result)[:MAX_RESULTS]:
        if not isinstance(item, dict):
            continue
        if "targetUri" in item:
            entries.append((item.get("targetUri"), start_of(item, "targetSelectionRange", "targetRange"), ""))
        else:
            entries.append((item.get("uri"), start_of(item, "range"), ""))
    return entries


def _build(deps: ToolContext, entries: list[Entry]) -> Shown:
    shown = Shown()
    for uri, start, note in entries[:MAX_RESULTS]:
        shown.add(deps, uri, start, note)
    return shown


async def show(deps: ToolContext, entries: list[Entry]) -> Shown:
    """Lines and locations for `entries`; resolving and reading the files happens in a worker thread."""
    return await anyio.to_thread.run_sync(_build, deps, entries)


async def report(deps: ToolContext, call_id: str | None, shown: Shown) -> None:
    if call_id and shown.locations:
        await deps.report(call_id, locations=tuple(shown.locations[:MAX_RESULTS]))


def listing(head: str, lines: Iterable[str], total: int) -> str:
    body = list(lines)
    more = f"\n… {total - len(body)} more not shown" if total > len(body) else ""
    return head + ("\n" + "\n".join(body) if body else "") + more
