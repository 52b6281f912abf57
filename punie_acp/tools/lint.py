"""Read-only Python checks: `ruff_check` and `ruff_format_diff` (`ty_check` lives in `typecheck`).

They change no files (ruff runs with `--no-fix --no-cache`, formatting only as a diff), so they
ask no permission in any mode. Because they never ask, nothing the project controls may steer
them outside the root: they run punie's pinned ruff (the project's only if the user set
`project_tools`), with a config punie writes from the project's validated settings
(`checker_config`), on a file list punie chose (`checker_scope`), in a minimal environment.
"""

from __future__ import annotations

import re
from pathlib import Path

import anyio
from pydantic_ai import RunContext

from punie_acp.core.context import ToolContext
from punie_acp.core.tooling import AgentTool, path_location
from punie_acp.tools.checker_config import project_ruff_settings, to_toml
from punie_acp.tools.checks import (
    Diagnostic,
    checker_failed,
    chosen_files,
    format_diagnostics,
    inside,
    parse_json,
    plural,
    position,
    program,
    run_checker,
    scratch_dir,
    show_locations,
    summary,
    title,
    under_root,
)
from punie_acp.tools.errors import resolve_or_fail
from punie_acp.tools.output import OUTPUT_HEAD, OUTPUT_TAIL, OutputCap
from punie_acp.tools.process import ProcessResult
from punie_acp.tools.toolchain import Program
from punie_acp.tools.typecheck import TY_CHECK


async def _run_ruff(deps: ToolContext, program: Program, args: list[str], files: list[Path]) -> ProcessResult:
    root = deps.workspace.root
    settings = await anyio.to_thread.run_sync(project_ruff_settings, root)
    settings["respect-gitignore"] = False  # punie's listing already applied .gitignore
    async with scratch_dir() as scratch:
        config = scratch / "ruff.toml"
        await anyio.to_thread.run_sync(config.write_text, to_toml(settings))
        # An explicit --config file replaces every config ruff would discover (subdirectories too).
        argv = [*args, "--config", str(config), "--no-cache", "--force-exclude", "--"]
        argv += [path.relative_to(root).as_posix() for path in files]
        return await run_checker(deps, program, argv, "ruff", cwd=root, scratch=scratch)


async def ruff_check(ctx: RunContext[ToolContext], path: str = ".") -> str:
    """Lint Python code with ruff and list the problems as file:line:column; changes nothing.

    Args:
        path: File or directory relative to the project root.
    """
    deps = ctx.deps
    target = resolve_or_fail(deps.workspace, path)
    ruff = await program("ruff", deps)
    files = await chosen_files(deps, target)
    if not files:
        return summary("ruff check", deps, target, ruff, "no Python files to check")
    result = await _run_ruff(deps, ruff, ["check", "--output-format", "json", "--no-fix"], files)
    if result.exit_code not in (0, 1):
        raise checker_failed("ruff check", result)
    items = parse_json(result.output, "ruff")
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
    diagnostics = inside(deps, diagnostics)
    await show_locations(deps, ctx.tool_call_id, [(d.path, d.line) for d in diagnostics])
    if not diagnostics:
        return summary("ruff check", deps, target, ruff, "no problems found")
    fixable = sum(1 for d in diagnostics if d.fix)
    head = f"{plural(len(diagnostics), 'problem')} in {plural(len({d.path for d in diagnostics}), 'file')}"
    if fixable:
        head += f" ({fixable} with a safe fix, applied by `ruff check --fix`)"
    return summary("ruff check", deps, target, ruff, head) + "\n" + format_diagnostics(deps, diagnostics)


_DIFF_FILE = re.compile(r"^\+\+\+ (?:b/)?(.+?)(?:\t.*)?$")
_HUNK = re.compile(r"^@@ -(\d+)(?:,\d+)? \+\d+(?:,\d+)? @@")


def diff_sections(diff: str) -> list[tuple[str, str]]:
    """(file as printed after `+++`, its text) for each file of a unified diff."""
    sections: list[tuple[str, list[str]]] = []
    lines = diff.splitlines(keepends=True)
    for index, line in enumerate(lines):
        following = lines[index + 1] if index + 1 < len(lines) else ""
        match = _DIFF_FILE.match(following.rstrip("\n"))
        if line.startswith("--- ") and match:
            sections.append((match.group(1), []))
        if sections:
            sections[-1][1].append(line)
    return [(name, "".join(text)) for name, text in sections]


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
    target = resolve_or_fail(deps.workspace, path)
    ruff = await program("ruff", deps)
    files = await chosen_files(deps, target)
    if not files:
        return summary("ruff format", deps, target, ruff, "no Python files to check")
    result = await _run_ruff(deps, ruff, ["format", "--diff"], files)
    if result.exit_code not in (0, 1):
        raise checker_failed("ruff format", result)
    # Only the sections about files in the root are kept (ruff was given no others).
    diff = "".join(
        text for name, text in diff_sections(result.output) if deps.workspace.contains(under_root(deps, name))
    )
    hunks = diff_hunks(diff)
    paths = [(under_root(deps, name), line) for name, line in hunks]
    await show_locations(deps, ctx.tool_call_id, paths)
    if result.exit_code == 0 or not hunks:
        return summary("ruff format", deps, target, ruff, "already formatted, nothing would change")
    per_file: dict[Path, int] = {}
    for file, _ in paths:
        per_file[file] = per_file.get(file, 0) + 1
    listing = ", ".join(f"{deps.workspace.relative(p)} ({plural(n, 'hunk')})" for p, n in per_file.items())
    cap = OutputCap(OUTPUT_HEAD, OUTPUT_TAIL)
    cap.feed(diff.encode())
    head = f"{plural(len(per_file), 'file')} would be reformatted: {listing}"
    return summary("ruff format", deps, target, ruff, head) + "\n" + cap.text().rstrip("\n")


RUFF_CHECK = AgentTool(ruff_check, kind="search", title=title("ruff check"), locate=path_location("path"))
RUFF_FORMAT_DIFF = AgentTool(
    ruff_format_diff, kind="search", title=title("ruff format --diff"), locate=path_location("path")
)

__all__ = ["RUFF_CHECK", "RUFF_FORMAT_DIFF", "TY_CHECK"]
