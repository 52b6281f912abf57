"""Every refusal and I/O error inside a tool becomes a failed tool call the model can read."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import ParamSpec, TypeVar

from pydantic_ai.exceptions import ToolFailed

from punie_acp.core.host import EditorHost
from punie_acp.workspace.root import PathRefused, Workspace

P = ParamSpec("P")
T = TypeVar("T")


def describe(exc: OSError) -> str:
    what = exc.strerror or str(exc)
    return f"{what}: {exc.filename}" if exc.filename else what


def fails_softly(function: Callable[P, Awaitable[T]]) -> Callable[P, Awaitable[T]]:
    """Turn `PathRefused` and `OSError` escaping a tool into `ToolFailed`, never a crashed turn."""

    @functools.wraps(function)
    async def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
        try:
            return await function(*args, **kwargs)
        except PathRefused as exc:
            raise ToolFailed(str(exc)) from exc
        except OSError as exc:
            raise ToolFailed(describe(exc)) from exc

    return wrapper


def resolve_or_fail(workspace: Workspace, path: str | None, *, for_write: bool = False) -> Path:
    """The one way a tool turns a model-supplied path into a checked path: a refusal is a failed call."""
    try:
        return workspace.resolve(path, for_write=for_write)
    except PathRefused as exc:
        raise ToolFailed(str(exc)) from exc


async def editor_read(
    host: EditorHost, path: Path, shown: str, line: int | None = None, limit: int | None = None
) -> str:
    """`fs/read_text_file`; an editor-side error is a failed tool call, not a crashed turn."""
    try:
        return await host.read_text_file(path, line=line, limit=limit)
    except Exception as exc:  # whatever the editor answered (e.g. a JSON-RPC error)
        raise ToolFailed(f"the editor could not read {shown!r}: {exc}") from exc


async def editor_write(host: EditorHost, path: Path, shown: str, content: str) -> None:
    """`fs/write_text_file`; an editor-side error is a failed tool call, not a crashed turn."""
    try:
        await host.write_text_file(path, content)
    except Exception as exc:
        raise ToolFailed(f"the editor could not write {shown!r}: {exc}; nothing was written") from exc
