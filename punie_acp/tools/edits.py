"""Editing tools: `write_file` and `edit_file`.

Both show the change as an ACP diff, ask the permission gate (per the session's mode), and
write through the editor (`fs/write_text_file`, so its review UI sees the change) when it
offers that, else straight to disk with `safeio.write_atomic`. Current content comes from
the editor too when it can read files: an unsaved buffer is what gets edited.

A rejected prompt becomes a failed tool call the model sees; a cancelled prompt ends the
turn (the gate's rules, `core.permissions`).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import anyio
from pydantic_ai import RunContext
from pydantic_ai.exceptions import ToolFailed

from punie_acp.core.context import ToolContext
from punie_acp.core.events import DiffContent, Location
from punie_acp.core.host import PermissionRequest
from punie_acp.core.tooling import AgentTool, path_location
from punie_acp.tools.errors import editor_read, editor_write, fails_softly, resolve_or_fail
from punie_acp.tools.lsp.hook import introduced_by_edit
from punie_acp.workspace.root import PathRefused
from punie_acp.workspace.safeio import looks_binary, make_parents, read_bytes, write_atomic

MAX_EDIT_BYTES = 4 * 1024 * 1024


async def current_text(deps: ToolContext, target: Path, shown: str) -> str | None:
    """The text an edit starts from (the editor's buffer when it offers one); None: no such file."""
    try:
        data = await anyio.to_thread.run_sync(read_bytes, deps.workspace.root, target, MAX_EDIT_BYTES)
    except FileNotFoundError:
        return None
    except IsADirectoryError as exc:
        raise ToolFailed(f"{shown!r} is a directory, not a file") from exc
    except PathRefused as exc:
        raise ToolFailed(f"{shown!r}: {exc}") from exc
    except OSError as exc:
        raise ToolFailed(f"cannot read {shown!r}: {exc.strerror or exc}") from exc
    if looks_binary(data[:8192]):
        raise ToolFailed(f"{shown!r} is a binary file; it cannot be edited as text")
    if deps.host.capabilities.read_text_file:
        return await editor_read(deps.host, target, shown)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ToolFailed(f"{shown!r} is not UTF-8 text; it cannot be edited") from exc


async def _apply(
    ctx: RunContext[ToolContext], args: dict[str, Any], target: Path, old: str | None, new: str, line: int
) -> None:
    """Show the diff, ask, re-check nothing moved meanwhile, then write."""
    deps = ctx.deps
    call_id = ctx.tool_call_id or ""
    diff = DiffContent(target, old, new)
    rel = deps.workspace.relative(target)
    if call_id:
        await deps.report(call_id, content=(diff,), locations=(Location(target, line),))
    verb = "Create" if old is None else "Edit"
    request = PermissionRequest(call_id=call_id, title=f"{verb} {rel}", kind="edit", raw_input=args, content=(diff,))
    await deps.permissions.require("edit", request)  # refused: a failed call; cancelled: the turn ends
    # The prompt may have been open for minutes: check the path and the content again.
    if resolve_or_fail(deps.workspace, args["path"], for_write=True) != target:
        raise ToolFailed(f"{rel!r} changed while waiting for permission; nothing was written")
    if await current_text(deps, target, rel) != old:
        raise ToolFailed(f"{rel!r} changed while waiting for permission; nothing was written. Read it again.")
    try:
        if deps.host.capabilities.write_text_file:
            await anyio.to_thread.run_sync(make_parents, deps.workspace.root, target)
            await editor_write(deps.host, target, rel, new)
        else:
            await anyio.to_thread.run_sync(write_atomic, deps.workspace.root, target, new.encode("utf-8"))
    except PathRefused as exc:
        raise ToolFailed(f"{rel!r}: {exc}; nothing was written") from exc
    except OSError as exc:
        raise ToolFailed(f"cannot write {rel!r}: {exc.strerror or exc}") from exc
    deps.workspace.index.note_written(target)


def _lines(text: str) -> int:
    return text.count("\n") + (0 if text.endswith("\n") or not text else 1)


@fails_softly
async def write_file(ctx: RunContext[ToolContext], path: str, content: str) -> str:
    """Create a file, or replace all of an existing file's content. Prefer edit_file for changes.

    Args:
        path: File path, relative to the project root (missing directories are created).
        content: The complete new content of the file.
    """
    deps = ctx.deps
    target = resolve_or_fail(deps.workspace, path, for_write=True)
    if target == deps.workspace.root:
        raise ToolFailed("write_file needs a file path, not the project root")
    if len(content.encode("utf-8")) > MAX_EDIT_BYTES:
        raise ToolFailed(f"content is larger than {MAX_EDIT_BYTES // (1024 * 1024)} MiB; write a smaller file")
    rel = deps.workspace.relative(target)
    old = await current_text(deps, target, rel)
    if old == content:
        return f"{rel} already has exactly this content; nothing written"
    await _apply(ctx, {"path": path, "content": content}, target, old, content, 1)
    problems = await introduced_by_edit(deps, target, old, content)  # what the language server now reports
    if old is None:
        return f"Created {rel} ({_lines(content)} lines){problems}"
    return f"Replaced the content of {rel} ({_lines(old)} lines before, {_lines(content)} now){problems}"


def _find_unique(text: str, old: str, rel: str) -> int:
    first = text.find(old)
    if first < 0:
        hint = ""
        stripped = old.strip()
        if stripped and stripped != old and stripped in text:
            at = text[: text.find(stripped)].count("\n") + 1
            hint = f" A match ignoring leading/trailing whitespace is at line {at}: copy its exact whitespace."
        raise ToolFailed(
            f"old_text was not found in {rel}. It must match the file exactly, including indentation and line"
            f" breaks; read_file the lines you want to change and copy them.{hint}"
        )
    where = [first]
    start = first
    while (start := text.find(old, start + 1)) >= 0 and len(where) < 10:
        where.append(start)
    if len(where) > 1:
        lines = ", ".join(str(text[:i].count("\n") + 1) for i in where)
        raise ToolFailed(
            f"old_text occurs {len(where)}{'+' if len(where) == 10 else ''} times in {rel} (at lines {lines});"
            " include more surrounding lines so it matches exactly once"
        )
    return first


@fails_softly
async def edit_file(ctx: RunContext[ToolContext], path: str, old_text: str, new_text: str) -> str:
    """Replace one exact piece of a file with new text.

    Args:
        path: File path, relative to the project root.
        old_text: Text to replace; must occur exactly once in the file, whitespace included.
        new_text: The replacement text.
    """
    deps = ctx.deps
    args: dict[str, Any] = {"path": path, "old_text": old_text, "new_text": new_text}
    target = resolve_or_fail(deps.workspace, path, for_write=True)
    rel = deps.workspace.relative(target)
    if not old_text:
        raise ToolFailed("old_text is empty; give the exact text to replace (use write_file to create a file)")
    if old_text == new_text:
        raise ToolFailed("old_text and new_text are the same; there is nothing to change")
    current = await current_text(deps, target, rel)
    if current is None:
        raise ToolFailed(f"{rel!r} does not exist; use write_file to create it")
    if old_text not in current and "\r\n" in current and "\r" not in old_text:
        # The model writes '\n'; the file uses CRLF. Keep the file's line endings.
        old_text, new_text = old_text.replace("\n", "\r\n"), new_text.replace("\n", "\r\n")
    at = _find_unique(current, old_text, rel)
    updated = current[:at] + new_text + current[at + len(old_text) :]
    line = current[:at].count("\n") + 1
    await _apply(ctx, args, target, current, updated, line)
    problems = await introduced_by_edit(deps, target, current, updated)  # what the language server now reports
    return f"Edited {rel} at line {line}: {_lines(old_text)} line(s) replaced by {_lines(new_text)}{problems}"


def _title(verb: str) -> Any:
    def title(args: Mapping[str, Any]) -> str:
        value = args.get("path")
        return f"{verb} {value}" if value else verb

    return title


WRITE_FILE = AgentTool(write_file, kind="edit", title=_title("Write"), locate=path_location("path"))
EDIT_FILE = AgentTool(edit_file, kind="edit", title=_title("Edit"), locate=path_location("path"))
