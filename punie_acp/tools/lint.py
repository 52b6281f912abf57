"""Read-only Python checks: `ruff_check`, `ruff_format_diff` and `ty_check`.

They change no files (ruff runs with `--no-fix --no-cache`, formatting only as a diff), so they
ask no permission in any mode. They run the project's own ruff/ty when it has them
(see `toolchain`), with the project's configuration.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic_ai import RunContext
from pydantic_ai.exceptions import ToolFailed

from punie_acp.core.context import ToolContext
from punie_acp.core.tooling import AgentTool, path_location
from punie_acp.tools.checks import (
    Diagnostic,
    checker_failed,
    format_diagnostics,
    plural,
    position,
    resolve_target,
    run_checker,
    show_locations,
    under_root,
)
from punie_acp.tools.output import OUTPUT_HEAD, OUTPUT_TAIL, OutputCap
from punie_acp.tools.toolchain import Program, find_program, project_venvs


def _program(name: str, root: Path) -> Program:
    program = find_program(name, root, module=name)
    if program is None:
        raise ToolFailed(f"{name} is not installed (not in the project's virtualenv, on PATH, or beside punie)")
    return program


def _parse_json(text: str, name: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ToolFailed(f"{name} printed output that is not the expected JSON ({exc}); try a narrower path") from exc


def _summary(what: str, deps: ToolContext, target: Path, program: Program, findings: str) -> str:
    return f"{what} {deps.workspace.relative(target)} ({program.origin}): {findings}"


async def ruff_check(ctx: RunContext[ToolContext], path: str = ".") -> str:
    """Lint Python code with ruff and list the problems as file:line:column; changes nothing.

    Args:
        path: File or directory relative to the project root.
    """
    deps = ctx.deps
    target = resolve_target(deps, path)
    program = _program("ruff", deps.workspace.root)
    args = ["check", "--output-format", "json", "--no-fix", "--no-cache", "--force-exclude", str(target)]
    result = await run_checker(deps, program, args, "ruff")
    if result.exit_code not in (0, 1):
        raise checker_failed("ruff check", result)
    items = _parse_json(result.output, "ruff")
    diagnostics = []
    for item in items:
        line, column = position(item, "location")
        fix = item.get("fix") or {}
        diagnostics.append(
            Diagnostic(
                path=under_root(deps, str(item.get("filename", ""))),
                line=line,
                column=column,
                code=item.get("code") or "syntax-error",
                message=str(item.get("message", "")),
                fix=fix.get("message") if fix.get("applicability") == "safe" else None,
            )
        )
    await show_locations(deps, ctx.tool_call_id, [(d.path, d.line) for d in diagnostics])
    if not diagnostics:
        return _summary("ruff check", deps, target, program, "no problems found")
    fixable = sum(1 for d in diagnostics if d.fix)
    files = len({d.path for d in diagnostics})
    head = f"{plural(len(diagnostics), 'problem')} in {plural(files, 'file')}"
    if fixable:
        head += f" ({fixable} with a safe fix, applied by `ruff check --fix`)"
    return _summary("ruff check", deps, target, program, head) + "\n" + format_diagnostics(deps, diagnostics)


_DIFF_FILE = re.compile(r"^\+\+\+ (?:b/)?(.+?)(?:\t.*)?$")
_HUNK = re.compile(r"^@@ -(\d+)(?:,\d+)? \+\d+(?:,\d+)? @@")


def diff_hunks(diff: str) -> list[tuple[str, int]]:
    """(file as printed, first old line) for every hunk of a unified diff."""
    hunks: list[tuple[str, int]] = []
    current: str | None = None
    for line in diff.splitlines():
        match = _DIFF_FILE.match(line)
        if match:
            current = match.group(1)
            continue
        hunk = _HUNK.match(line)
        if hunk and current is not None:
            hunks.append((current, int(hunk.group(1))))
    return hunks


async def ruff_format_diff(ctx: RunContext[ToolContext], path: str = ".") -> str:
    """Show what `ruff format` would change, as a unified diff; writes nothing.

    Args:
        path: File or directory relative to the project root.
    """
    deps = ctx.deps
    target = resolve_target(deps, path)
    program = _program("ruff", deps.workspace.root)
    args = ["format", "--diff", "--no-cache", "--force-exclude", str(target)]
    result = await run_checker(deps, program, args, "ruff")
    if result.exit_code not in (0, 1):
        raise checker_failed("ruff format", result)
    hunks = diff_hunks(result.output)
    paths = [(under_root(deps, name), line) for name, line in hunks]
    await show_locations(deps, ctx.tool_call_id, paths)
    if result.exit_code == 0 or not hunks:
        return _summary("ruff format", deps, target, program, "already formatted, nothing would change")
    per_file: dict[Path, int] = {}
    for file, _ in paths:
        per_file[file] = per_file.get(file, 0) + 1
    listing = ", ".join(f"{deps.workspace.relative(p)} ({plural(n, 'hunk')})" for p, n in per_file.items())
    cap = OutputCap(OUTPUT_HEAD, OUTPUT_TAIL)
    cap.feed(result.output.encode())
    head = f"{plural(len(per_file), 'file')} would be reformatted: {listing}"
    return _summary("ruff format", deps, target, program, head) + "\n" + cap.text().rstrip("\n")


_TY_SEVERITY = {"info": "info", "minor": "warning", "major": "error", "critical": "error", "blocker": "error"}
_CONCISE = re.compile(r"^(?P<path>.+?):(?P<line>\d+):(?P<col>\d+): (?P<sev>\w+)\[(?P<code>[^\]]+)\] (?P<msg>.*)$")


def _ty_gitlab(deps: ToolContext, items: list[Mapping[str, Any]]) -> list[Diagnostic]:
    out = []
    for item in items:
        location = item.get("location") or {}
        line, column = position(location.get("positions") or {}, "begin")
        code = str(item.get("check_name", "ty"))
        message = str(item.get("description", ""))
        out.append(
            Diagnostic(
                path=under_root(deps, str(location.get("path", ""))),
                line=line,
                column=column,
                code=code,
                message=message.removeprefix(f"{code}: "),
                severity=_TY_SEVERITY.get(str(item.get("severity")), "error"),
            )
        )
    return out


def _ty_concise(deps: ToolContext, text: str) -> list[Diagnostic]:
    out = []
    for line in text.splitlines():
        m = _CONCISE.match(line)
        if m:
            out.append(
                Diagnostic(under_root(deps, m["path"]), int(m["line"]), int(m["col"]), m["code"], m["msg"], m["sev"])
            )
    return out


async def ty_check(ctx: RunContext[ToolContext], path: str = ".") -> str:
    """Type-check Python code with ty and list the diagnostics as file:line:column; changes nothing.

    Args:
        path: File or directory relative to the project root.
    """
    deps = ctx.deps
    root = deps.workspace.root
    target = resolve_target(deps, path)
    program = _program("ty", root)
    venvs = project_venvs(root)
    common = ["--no-progress", "--color", "never", *(["--python", str(venvs[0])] if venvs else []), str(target)]
    result = await run_checker(deps, program, ["check", "--output-format", "gitlab", *common], "ty")
    if result.exit_code == 2 and "gitlab" in result.errors:  # an older ty: fall back to one line per diagnostic
        result = await run_checker(deps, program, ["check", "--output-format", "concise", *common], "ty")
        if result.exit_code not in (0, 1):
            raise checker_failed("ty check", result)
        diagnostics = _ty_concise(deps, result.output)
    else:
        if result.exit_code not in (0, 1):
            raise checker_failed("ty check", result)
        diagnostics = _ty_gitlab(deps, _parse_json(result.output or "[]", "ty"))
    await show_locations(deps, ctx.tool_call_id, [(d.path, d.line) for d in diagnostics])
    if not diagnostics:
        return _summary("ty check", deps, target, program, "no diagnostics")
    errors = sum(1 for d in diagnostics if d.severity == "error")
    head = f"{plural(errors, 'error')}, {plural(len(diagnostics) - errors, 'other diagnostic')}"
    return _summary("ty check", deps, target, program, head) + "\n" + format_diagnostics(deps, diagnostics)


def _title(verb: str) -> Any:
    def title(args: Mapping[str, Any]) -> str:
        value = args.get("path")
        return f"{verb} {value}" if isinstance(value, str) and value not in ("", ".") else verb

    return title


RUFF_CHECK = AgentTool(ruff_check, kind="search", title=_title("ruff check"), locate=path_location("path"))
RUFF_FORMAT_DIFF = AgentTool(
    ruff_format_diff, kind="search", title=_title("ruff format --diff"), locate=path_location("path")
)
TY_CHECK = AgentTool(ty_check, kind="search", title=_title("ty check"), locate=path_location("path"))
