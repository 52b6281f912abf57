"""What the Python check tools share: resolving the target, running the checker, diagnostics."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic_ai.exceptions import ToolFailed

from punie_acp.core.context import ToolContext
from punie_acp.core.events import Location
from punie_acp.tools.process import ProcessResult, run_process
from punie_acp.tools.toolchain import Program, local_env
from punie_acp.workspace.root import PathRefused

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


def resolve_target(deps: ToolContext, path: str | None) -> Path:
    try:
        return deps.workspace.resolve(path)
    except PathRefused as exc:
        raise ToolFailed(str(exc)) from exc


def under_root(deps: ToolContext, raw: str) -> Path:
    """A path a checker printed (relative to the root, or absolute)."""
    path = Path(raw)
    return path if path.is_absolute() else deps.workspace.root / path


async def run_checker(deps: ToolContext, program: Program, args: Sequence[str], name: str) -> ProcessResult:
    try:
        return await run_process(
            [*program.argv, *args],
            cwd=deps.workspace.root,
            env=local_env(deps.workspace.root),
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
