"""What the Python check tools share: resolving the target, running the checker, diagnostics."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
from pydantic_ai.exceptions import ToolFailed

from punie_acp.core.context import ToolContext
from punie_acp.core.events import Location
from punie_acp.tools.checker_scope import TooManyFiles, python_files
from punie_acp.tools.process import ProcessResult, run_process
from punie_acp.tools.toolchain import Program, checker_env, checker_program

MAX_LISTED = 200  # diagnostics listed for the model
MAX_LOCATIONS = 50  # locations shown to the editor
CAPTURE_LIMIT = 8_000_000  # structured output is read whole (it is parsed, not shown)


@dataclass(frozen=True)
class Diagnostic:
    path: Path
    line: int
    column: int
    code: str
    message: str
    severity: str = "error"
    fix: str | None = None


def under_root(deps: ToolContext, raw: str) -> Path:
    """A path a checker printed (relative to the root, or absolute), normalised."""
    path = Path(raw)
    return Path(os.path.normpath(path if path.is_absolute() else deps.workspace.root / path))


def inside(deps: ToolContext, diagnostics: Sequence[Diagnostic]) -> list[Diagnostic]:
    """Only diagnostics about files in the root (a checker has no business elsewhere)."""
    return [d for d in diagnostics if deps.workspace.contains(d.path)]


@asynccontextmanager
async def scratch_dir() -> AsyncIterator[Path]:
    """A punie-owned temp dir for a checker's config (and as its HOME); removed afterwards."""
    path = Path(await anyio.to_thread.run_sync(lambda: tempfile.mkdtemp(prefix="punie-check-")))
    try:
        yield path
    finally:
        await anyio.to_thread.run_sync(lambda: shutil.rmtree(path, ignore_errors=True))


async def run_checker(
    deps: ToolContext, program: Program, args: Sequence[str], name: str, *, cwd: Path, scratch: Path
) -> ProcessResult:
    """Run a checker with punie's minimal environment; `args` already end with `--` and the files."""
    try:
        return await run_process(
            [*program.argv, *args],
            cwd=cwd,
            env=checker_env(scratch),
            time_limit=deps.settings.command_timeout,
            merge_stderr=False,
            head=CAPTURE_LIMIT,
            tail=0,
        )
    except OSError as exc:
        raise ToolFailed(f"could not start {program.describe(name)}: {exc}") from exc


def checker_failed(name: str, result: ProcessResult) -> ToolFailed:
    detail = (result.errors.strip() or result.output.strip())[-4000:]
    return ToolFailed(f"{name} did not complete ({result.status()}):\n{detail}")


def position(item: Mapping[str, Any], key: str) -> tuple[int, int]:
    loc = item.get(key) or {}
    return int(loc.get("row") or loc.get("line") or 1), int(loc.get("column") or 1)


def format_diagnostics(deps: ToolContext, diagnostics: Sequence[Diagnostic]) -> str:
    lines = []
    for d in diagnostics[:MAX_LISTED]:
        severity = "" if d.severity == "error" else f"{d.severity}: "
        fix = f" [fix: {d.fix}]" if d.fix else ""
        lines.append(f"{deps.workspace.relative(d.path)}:{d.line}:{d.column}: {severity}{d.code} {d.message}{fix}")
    if len(diagnostics) > MAX_LISTED:
        lines.append(f"[… and {len(diagnostics) - MAX_LISTED} more; check a narrower path]")
    return "\n".join(lines)


async def show_locations(deps: ToolContext, call_id: str | None, paths: Sequence[tuple[Path, int | None]]) -> None:
    """Point the editor at what a check found (first MAX_LOCATIONS, inside the project only)."""
    if not call_id:
        return
    seen: set[tuple[Path, int | None]] = set()
    locations: list[Location] = []
    for path, line in paths:
        if (path, line) in seen or not deps.workspace.contains(path):
            continue
        seen.add((path, line))
        locations.append(Location(path, line))
        if len(locations) >= MAX_LOCATIONS:
            break
    if locations:
        await deps.report(call_id, locations=tuple(locations))


def plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


async def program(name: str, deps: ToolContext) -> Program:
    root = deps.workspace.root
    # `project_tools` is user-level only: the settings refuse it in a project's `[tool.punie]`.
    allowed = deps.settings.project_tools
    found = await anyio.to_thread.run_sync(lambda: checker_program(name, root, project_tools=allowed))
    if found is None:
        raise ToolFailed(f"punie's own {name} is missing from its installation; reinstall punie")
    return found


def parse_json(text: str, name: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ToolFailed(f"{name} printed output that is not the expected JSON ({exc}); try a narrower path") from exc


def summary(what: str, deps: ToolContext, target: Path, program: Program, findings: str) -> str:
    return f"{what} {deps.workspace.relative(target)} ({program.origin}): {findings}"


async def chosen_files(deps: ToolContext, target: Path) -> list[Path]:
    """The files the checker is given (never a link out of the root); a one-line error when too many."""
    try:
        return await anyio.to_thread.run_sync(python_files, deps.workspace.root, target)
    except TooManyFiles as exc:
        raise ToolFailed(str(exc)) from exc


def title(verb: str) -> Any:
    def title(args: Mapping[str, Any]) -> str:
        value = args.get("path")
        return f"{verb} {value}" if isinstance(value, str) and value not in ("", ".") else verb

    return title
