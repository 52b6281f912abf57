"""The code-intelligence tools: a language server's answers about names, types and calls.

A position is `path` + `line` + `column` (1-based, counted in characters) or `path` + `symbol`
(the tool finds the name in the file, its definition first). Results are `path:line:col: text`
lines, capped, and the in-root ones are shown in the editor as the call's locations.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from lsprotocol import types as lsp
from pydantic_ai import RunContext
from pydantic_ai.exceptions import ToolFailed

from punie_acp.core.context import ToolContext
from punie_acp.core.tooling import AgentTool, path_location
from punie_acp.tools.errors import resolve_or_fail
from punie_acp.tools.lsp import fallback
from punie_acp.tools.lsp.ask import (
    MAX_RESULTS,
    Entry,
    as_list,
    ask,
    file_text,
    listing,
    location_entries,
    position_in,
    report,
    server_of,
    show,
    start_of,
    text_document,
)
from punie_acp.tools.lsp.positions import path_to_uri
from punie_acp.tools.lsp.server import CodeIntelError, Restarted


async def _at(ctx: RunContext[ToolContext], path: str, line: int, column: int, symbol: str, method: str) -> Any:
    deps = ctx.deps
    target = resolve_or_fail(deps.workspace, path)
    server = server_of(deps, target)
    text = await file_text(deps, target)
    at = position_in(text, line, column, symbol, deps.workspace.relative(target))
    return await ask(deps, server, target, method, lambda: text_document(target, at))


async def _locations(
    ctx: RunContext[ToolContext], what: str, path: str, line: int, column: int, symbol: str, method: str
) -> str:
    try:
        result = await _at(ctx, path, line, column, symbol, method)
    except ToolFailed as exc:
        fallen = await fallback.answer(ctx.deps, what, path, symbol, str(exc), line, column)
        if fallen is None:
            raise
        return fallen
    shown = await show(ctx.deps, location_entries(result))
    await report(ctx.deps, ctx.tool_call_id, shown)
    if not shown.lines:
        return f"no {what} found"
    return listing(f"{len(as_list(result))} {what}:", shown.lines, len(as_list(result)))


async def goto_definition(
    ctx: RunContext[ToolContext], path: str, line: int = 0, column: int = 0, symbol: str = ""
) -> str:
    """Where the name at a position is defined (resolved by the language server, not by text).

    Args:
        path: File relative to the project root.
        line: 1-based line of the name (or give symbol instead).
        column: 1-based column of the name.
        symbol: A name in the file, instead of line/column (e.g. "parse" or "Parser.parse").
    """
    return await _locations(ctx, "definition(s)", path, line, column, symbol, lsp.TEXT_DOCUMENT_DEFINITION)


async def find_references(
    ctx: RunContext[ToolContext], path: str, line: int = 0, column: int = 0, symbol: str = ""
) -> str:
    """Every use of the name at a position across the project, its definition included.

    Args:
        path: File relative to the project root.
        line: 1-based line of the name (or give symbol instead).
        column: 1-based column of the name.
        symbol: A name in the file, instead of line/column.
    """
    deps = ctx.deps
    try:
        target = resolve_or_fail(deps.workspace, path)
        server = server_of(deps, target)
        text = await file_text(deps, target)
        at = position_in(text, line, column, symbol, deps.workspace.relative(target))

        def params() -> dict[str, Any]:
            return {**text_document(target, at), "context": {"includeDeclaration": True}}

        result = await ask(deps, server, target, lsp.TEXT_DOCUMENT_REFERENCES, params)
    except ToolFailed as exc:
        fallen = await fallback.answer(deps, "references", path, symbol, str(exc), line, column)
        if fallen is None:
            raise
        return fallen
    shown = await show(deps, location_entries(result))
    await report(deps, ctx.tool_call_id, shown)
    total = len(as_list(result))
    return listing(f"{total} reference(s):", shown.lines, total) if shown.lines else "no references found"


async def goto_implementation(
    ctx: RunContext[ToolContext], path: str, line: int = 0, column: int = 0, symbol: str = ""
) -> str:
    """Implementations of the abstract method, protocol or class at a position.

    Args:
        path: File relative to the project root.
        line: 1-based line of the name (or give symbol instead).
        column: 1-based column of the name.
        symbol: A name in the file, instead of line/column.
    """
    result = await _at(ctx, path, line, column, symbol, lsp.TEXT_DOCUMENT_IMPLEMENTATION)
    shown = await show(ctx.deps, location_entries(result))
    await report(ctx.deps, ctx.tool_call_id, shown)
    total = len(as_list(result))
    return listing(f"{total} implementation(s):", shown.lines, total) if shown.lines else "no implementations found"


def _hover_text(contents: Any) -> str:
    if isinstance(contents, str):
        return contents
    if isinstance(contents, dict):
        return str(contents.get("value", ""))
    if isinstance(contents, list):
        return "\n".join(_hover_text(part) for part in contents[:20])
    return ""


async def hover(ctx: RunContext[ToolContext], path: str, line: int = 0, column: int = 0, symbol: str = "") -> str:
    """The type and documentation of the name at a position.

    Args:
        path: File relative to the project root.
        line: 1-based line of the name (or give symbol instead).
        column: 1-based column of the name.
        symbol: A name in the file, instead of line/column.
    """
    result = await _at(ctx, path, line, column, symbol, lsp.TEXT_DOCUMENT_HOVER)
    text = _hover_text(result.get("contents")) if isinstance(result, dict) else ""
    text = text.strip()
    if not text:
        return "nothing known about that position (no name there?)"
    return text if len(text) <= 4000 else text[:4000] + "\n…[cut]"


def _kind(kind: Any) -> str:
    known = isinstance(kind, int) and any(kind == member.value for member in lsp.SymbolKind)
    return lsp.SymbolKind(kind).name.lower() if known else "symbol"


def _symbol_lines(items: list[Any], depth: int, out: list[str]) -> None:
    for item in items:
        if len(out) >= 300 or not isinstance(item, dict):
            return
        kind = item.get("kind")
        name = str(item.get("name", "?"))[:120]
        label = _kind(kind)
        start = start_of(item, "selectionRange", "range") or start_of(item.get("location"), "range")
        line = start.get("line") if isinstance(start, dict) else None
        at = f" (line {line + 1})" if isinstance(line, int) else ""
        out.append(f"{'  ' * depth}{label} {name}{at}")
        children = item.get("children")
        if isinstance(children, list) and depth < 8:
            _symbol_lines(children, depth + 1, out)


async def document_symbols(ctx: RunContext[ToolContext], path: str) -> str:
    """The outline of a file: its classes, functions, methods and variables, nested, with lines.

    Args:
        path: File relative to the project root.
    """
    deps = ctx.deps
    target = resolve_or_fail(deps.workspace, path)
    server = server_of(deps, target)
    result = await ask(
        deps, server, target, lsp.TEXT_DOCUMENT_DOCUMENT_SYMBOL, lambda: {"textDocument": {"uri": path_to_uri(target)}}
    )
    out: list[str] = []
    _symbol_lines(as_list(result), 0, out)
    return listing(f"symbols in {deps.workspace.relative(target)}:", out, len(out)) if out else "no symbols found"


async def workspace_symbols(ctx: RunContext[ToolContext], query: str) -> str:
    """Find classes, functions and variables by name across the project (fuzzy match).

    Args:
        query: Part of a name, e.g. "Parser" or "load_conf".
    """
    deps = ctx.deps
    probe = deps.workspace.root / "__punie__.py"  # Python's server unless configured otherwise
    try:
        server = server_of(deps, probe)
        result = await server.request(lsp.WORKSPACE_SYMBOL, {"query": query[:200]})
    except (ToolFailed, CodeIntelError, Restarted) as exc:
        fallen = await fallback.answer(deps, "symbols", "", query, str(exc))
        if fallen is None:
            raise ToolFailed(str(exc)) from None
        return fallen
    entries: list[Entry] = []
    for item in as_list(result)[:MAX_RESULTS]:
        if isinstance(item, dict) and isinstance(item.get("location"), dict):
            location = item["location"]
            note = f" {_kind(item.get('kind'))} {str(item.get('name'))[:120]}"
            entries.append((location.get("uri"), start_of(location, "range"), note))
    shown = await show(deps, entries)
    await report(deps, ctx.tool_call_id, shown)
    total = len(as_list(result))
    return listing(f"{total} symbol(s) matching {query!r}:", shown.lines, total) if shown.lines else "no symbols found"


async def call_hierarchy(
    ctx: RunContext[ToolContext],
    path: str,
    direction: Literal["incoming", "outgoing"] = "incoming",
    line: int = 0,
    column: int = 0,
    symbol: str = "",
) -> str:
    """Who calls the function at a position (incoming), or what it calls (outgoing).

    Args:
        path: File relative to the project root.
        direction: "incoming" (callers) or "outgoing" (callees).
        line: 1-based line of the function's name (or give symbol instead).
        column: 1-based column of the name.
        symbol: A function name in the file, instead of line/column.
    """
    deps = ctx.deps
    items = as_list(await _at(ctx, path, line, column, symbol, lsp.TEXT_DOCUMENT_PREPARE_CALL_HIERARCHY))
    if not items or not isinstance(items[0], dict):
        return "no function or method at that position"
    target = resolve_or_fail(deps.workspace, path)
    server = server_of(deps, target)
    method = lsp.CALL_HIERARCHY_INCOMING_CALLS if direction == "incoming" else lsp.CALL_HIERARCHY_OUTGOING_CALLS
    calls = as_list(await ask(deps, server, target, method, lambda: {"item": items[0]}))
    entries: list[Entry] = []
    for call in calls[:MAX_RESULTS]:
        other = call.get("from" if direction == "incoming" else "to") if isinstance(call, dict) else None
        if isinstance(other, dict):
            entries.append(
                (other.get("uri"), start_of(other, "selectionRange", "range"), f" {str(other.get('name'))[:120]}")
            )
    shown = await show(deps, entries)
    await report(deps, ctx.tool_call_id, shown)
    name = str(items[0].get("name", "it"))[:120]
    head = f"{len(calls)} caller(s) of {name}:" if direction == "incoming" else f"{name} calls {len(calls)}:"
    return listing(head, shown.lines, len(calls)) if shown.lines else f"no {direction} calls for {name}"


async def diagnostics(ctx: RunContext[ToolContext], path: str = "") -> str:
    """The language server's errors and warnings for a file (or for every file punie has open in it).

    Args:
        path: File relative to the project root; empty for the files punie has opened this session.
    """
    from punie_acp.tools.lsp.hook import current_diagnostics, format_diagnostic

    deps = ctx.deps
    if path:
        targets = [resolve_or_fail(deps.workspace, path)]
    else:
        from punie_acp.tools.lsp import pool

        targets = [p for server in pool.running(deps.workspace.root) for p in server.open_paths()]
        if not targets:
            return "no files are open in a language server yet; give a path (or run ty_check for the whole project)"
    lines: list[str] = []
    for target in targets[:20]:
        server = server_of(deps, target)
        found = await current_diagnostics(deps, server, target)
        lines += [format_diagnostic(deps, target, item) for item in found]
    head = f"{len(lines)} diagnostic(s) in {len(targets[:20])} file(s)"
    return listing(head + (":" if lines else ""), lines[:MAX_RESULTS], len(lines))


def _title(verb: str) -> Any:
    def title(args: Mapping[str, Any]) -> str:
        where = args.get("symbol") or (f"{args.get('path')}:{args.get('line')}" if args.get("line") else None)
        target = where or args.get("path") or args.get("query")
        return f"{verb} {target}" if target else verb

    return title


GOTO_DEFINITION = AgentTool(goto_definition, "search", _title("Definition of"), path_location("path", "line"))
FIND_REFERENCES = AgentTool(find_references, "search", _title("References to"), path_location("path", "line"))
HOVER = AgentTool(hover, "read", _title("Hover"), path_location("path", "line"))
DOCUMENT_SYMBOLS = AgentTool(document_symbols, "read", _title("Symbols in"), path_location("path"))
WORKSPACE_SYMBOLS = AgentTool(workspace_symbols, "search", _title("Find symbol"))
GOTO_IMPLEMENTATION = AgentTool(
    goto_implementation, "search", _title("Implementations of"), path_location("path", "line")
)
CALL_HIERARCHY = AgentTool(call_hierarchy, "search", _title("Calls of"), path_location("path", "line"))
DIAGNOSTICS = AgentTool(diagnostics, "read", _title("Diagnostics"), path_location("path"))

CODE_INTEL_TOOLS = [
    GOTO_DEFINITION, FIND_REFERENCES, HOVER, DOCUMENT_SYMBOLS, WORKSPACE_SYMBOLS, GOTO_IMPLEMENTATION,
    CALL_HIERARCHY, DIAGNOSTICS,
]  # fmt: skip
