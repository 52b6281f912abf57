"""Diagnostics an edit introduced: the file's errors after the edit, less those it had before.

`write_file` and `edit_file` call `introduced_by_edit` once the change is written. The server is
told the text before (so the comparison is fair even for a file it never saw) and after
(`didChange` + `didSave`), diagnostics are pulled for both, and only the new ones are listed
(matched by rule and message, not line, since an edit moves lines): what the model just broke,
not the file's backlog. Never fails the edit: a slow or missing server just adds nothing.
"""

from __future__ import annotations

import logging
from collections import Counter
from pathlib import Path
from typing import Any

import anyio
from lsprotocol import types as lsp

from punie_acp.core.context import ToolContext
from punie_acp.tools.lsp.positions import char_column, line_of, path_to_uri
from punie_acp.tools.lsp.server import CodeIntelError, LanguageServer, Restarted
from punie_acp.tools.lsp.servers import ServerUnavailable, spec_for

log = logging.getLogger(__name__)

EDIT_DIAGNOSTICS_TIMEOUT = 20.0
SHOWN_AFTER_EDIT = 10
SHOWN_ELSEWHERE = 3
MAX_OTHER_FILES = 5
SEVERITY = {1: "error", 2: "warning", 3: "info", 4: "hint"}


def _items(result: Any) -> list[dict[str, Any]]:
    items = result.get("items") if isinstance(result, dict) else result
    return [item for item in items if isinstance(item, dict)] if isinstance(items, list) else []


async def pull(server: LanguageServer, path: Path, version: int) -> list[dict[str, Any]]:
    """The server's diagnostics for `path` as of `version` (pulled, or waited for when only pushed)."""
    if server.supports("diagnosticProvider"):
        params = {"textDocument": {"uri": path_to_uri(path)}}
        items = _items(await server.request(lsp.TEXT_DOCUMENT_DIAGNOSTIC, params))
    else:
        got = await server.wait_published(path_to_uri(path), version, timeout=EDIT_DIAGNOSTICS_TIMEOUT / 2)
        items = [item for item in got or [] if isinstance(item, dict)]
    server.known[path] = items
    return items


def _new(before: list[dict[str, Any]], after: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Errors and warnings in `after` beyond those in `before` (by rule and message: edits move lines)."""
    left = Counter(_key(item) for item in before)
    introduced = []
    for item in after:
        if left[_key(item)] > 0:
            left[_key(item)] -= 1
        elif item.get("severity", 1) in (1, 2):
            introduced.append(item)
    return introduced


async def _elsewhere(deps: ToolContext, server: LanguageServer, edited: Path) -> list[str]:
    """New problems in other open files whose diagnostics were known before the edit (a few lines)."""
    lines: list[str] = []
    for other in [p for p in server.open_paths() if p != edited and p in server.known][:MAX_OTHER_FILES]:
        before, version = server.known[other], server.version(other) or 0
        lines += [format_diagnostic(deps, other, item) for item in _new(before, await pull(server, other, version))]
    return lines[:SHOWN_ELSEWHERE]


def _key(item: dict[str, Any]) -> tuple[str, str]:
    return (str(item.get("code", "")), str(item.get("message", "")))


def _start(item: dict[str, Any]) -> tuple[int, int]:
    where = item.get("range")
    start = where.get("start") if isinstance(where, dict) else None
    if not isinstance(start, dict):
        return 0, 0
    line, character = start.get("line"), start.get("character")
    return (line if isinstance(line, int) and line >= 0 else 0, character if isinstance(character, int) else 0)


def format_diagnostic(deps: ToolContext, path: Path, item: dict[str, Any], text: str = "") -> str:
    line, character = _start(item)
    column = char_column(line_of(text, line), character) if text else character + 1
    raw_severity = item.get("severity")
    severity = SEVERITY.get(raw_severity if isinstance(raw_severity, int) else 1, "error")
    code = f"[{item.get('code')}] " if item.get("code") else ""
    message = str(item.get("message", "")).split("\n", 1)[0][:300]
    return f"{deps.workspace.relative(path)}:{line + 1}:{column}: {severity} {code}{message}"


async def current_diagnostics(deps: ToolContext, server: LanguageServer, path: Path) -> list[dict[str, Any]]:
    from punie_acp.tools.lsp.ask import file_text

    for attempt in range(2):
        try:
            version = await server.sync(path, await file_text(deps, path))
            return await pull(server, path, version)
        except Restarted:
            if attempt == 1 or server.failure:
                break
        except CodeIntelError as exc:
            from pydantic_ai.exceptions import ToolFailed

            raise ToolFailed(str(exc)) from None
    from pydantic_ai.exceptions import ToolFailed

    raise ToolFailed(server.failure or f"{server.spec.name} stopped while answering; try again")


async def introduced_by_edit(deps: ToolContext, path: Path, old: str | None, new: str) -> str:
    """A few lines naming the problems the edit introduced ('' when none, or nothing could be learnt)."""
    from punie_acp.tools.lsp import pool

    try:
        spec = spec_for(path, deps.settings.language_servers)
    except ServerUnavailable:
        return ""
    if spec is None:
        return ""
    server = pool.server_for(deps.workspace.root, spec, deps.session_id)
    if server.failure:
        return ""
    try:
        with anyio.fail_after(EDIT_DIAGNOSTICS_TIMEOUT):
            before: list[dict[str, Any]] = []
            if old is not None:
                before = await pull(server, path, await server.sync(path, old))
            after = await pull(server, path, await server.sync(path, new, saved=True))
            elsewhere = await _elsewhere(deps, server, path)
    except (CodeIntelError, Restarted, TimeoutError, OSError) as exc:
        log.info("no diagnostics after editing %s: %s", path, exc)
        return ""
    introduced = _new(before, after)
    if not introduced and not elsewhere:
        return ""  # nothing new: the edit's usual one line
    lines = [format_diagnostic(deps, path, item, new) for item in introduced[:SHOWN_AFTER_EDIT]]
    if len(introduced) > SHOWN_AFTER_EDIT:
        lines.append(f"… {len(introduced) - SHOWN_AFTER_EDIT} more")
    lines += [f"{line} (in another file)" for line in elsewhere]
    count = len(introduced) + len(elsewhere)
    return f"\n{server.spec.name}: this edit introduced {count} problem(s); fix them:\n" + "\n".join(lines)
