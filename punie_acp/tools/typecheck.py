"""`ty_check`: type-check with punie's pinned ty, confined to the root; changes nothing, asks nothing.

ty resolves imports by reading files: the root, a virtualenv's site-packages, `extra-paths`,
`typeshed`, `.pth` entries, the interpreter it is pointed at. A hostile root could name any of
them, and `reveal_type` then prints what it read. So ty never sees the project's configuration:
it runs as a project in punie's own temp dir, with a `ty.toml` punie writes (the project's rule
severities and Python version, the root as the first-party search path, the root's venv
site-packages only when it is inside the root with no links), an empty Python prefix (nothing
to execute or search), and only while no link reachable by an import leaves the root.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
from pydantic_ai import RunContext
from pydantic_ai.exceptions import ToolFailed

from punie_acp.core.context import ToolContext
from punie_acp.core.tooling import AgentTool, path_location
from punie_acp.tools.checker_config import project_ty_settings, to_toml
from punie_acp.tools.checker_scope import TooManyFiles, escaping_links, project_site_packages, python_version_dir
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
from punie_acp.tools.process import ProcessResult
from punie_acp.tools.toolchain import Program

_TY_SEVERITY = {"info": "info", "minor": "warning", "major": "error", "critical": "error", "blocker": "error"}


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


def _utf8(path: Path) -> bool:
    try:
        os.fsencode(path).decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


@dataclass(frozen=True)
class _Setup:
    links: list[Path]  # links an import could follow out of the root: no run
    note: str  # what the result should mention ("" when nothing)


def _prepare(root: Path, scratch: Path) -> _Setup:
    """Write ty's project (config and empty Python prefix) into `scratch`; what stands in the way."""
    links = escaping_links(root, root)
    site = project_site_packages(root)
    note = ""
    if site is not None and escaping_links(root, site):
        # e.g. uv's symlink link mode: third-party imports stay unresolved rather than read outside.
        venv = site.relative_to(root).parts[0]
        site, note = None, f"; {venv} was not searched: its site-packages links outside the root"
    settings = project_ty_settings(root)
    environment = settings.setdefault("environment", {})
    first_party = [root] + ([root / "src"] if (root / "src").is_dir() and not (root / "src").is_symlink() else [])
    environment["root"] = [str(p) for p in first_party]
    environment["extra-paths"] = [str(site)] if site else []
    settings["src"] = {"respect-ignore-files": False}
    (scratch / "ty.toml").write_text(to_toml(settings))
    # An empty sys.prefix: ty searches its (empty) site-packages and runs no interpreter.
    (scratch / "prefix" / "lib" / python_version_dir(site) / "site-packages").mkdir(parents=True)
    (scratch / "project").mkdir()
    return _Setup(links, note)


async def _run_ty(deps: ToolContext, ty: Program, files: list[Path]) -> tuple[ProcessResult, str]:
    root = deps.workspace.root
    async with scratch_dir() as scratch:
        try:
            setup = await anyio.to_thread.run_sync(_prepare, root, scratch)
        except TooManyFiles as exc:
            raise ToolFailed(f"ty check refused: {exc}") from exc
        if setup.links:
            shown = ", ".join(deps.workspace.relative(link) for link in setup.links[:5])
            what = "is a link" if len(setup.links) == 1 else "are links"
            raise ToolFailed(
                f"ty check refused: {shown} {what} leading outside the project root, which ty would follow "
                "when resolving imports; remove the link (ruff_check still works)"
            )
        args = ["check", "--output-format", "gitlab", "--no-progress", "--color", "never"]
        args += ["--config-file", str(scratch / "ty.toml"), "--project", str(scratch / "project")]
        args += ["--python", str(scratch / "prefix"), "--", *map(str, files)]
        result = await run_checker(deps, ty, args, "ty", cwd=scratch / "project", scratch=scratch)
        return result, setup.note


async def ty_check(ctx: RunContext[ToolContext], path: str = ".") -> str:
    """Type-check Python code with ty and list the diagnostics as file:line:column; changes nothing.

    Args:
        path: File or directory relative to the project root.
    """
    deps = ctx.deps
    target = resolve_or_fail(deps.workspace, path)
    ty = await program("ty", deps)
    files = [f for f in await chosen_files(deps, target) if _utf8(f)]  # ty takes no other argument
    if not files:
        return summary("ty check", deps, target, ty, "no Python files to check")
    result, note = await _run_ty(deps, ty, files)
    if result.exit_code not in (0, 1):
        raise checker_failed("ty check", result)
    diagnostics = inside(deps, _ty_gitlab(deps, parse_json(result.output or "[]", "ty")))
    await show_locations(deps, ctx.tool_call_id, [(d.path, d.line) for d in diagnostics])
    if not diagnostics:
        return summary("ty check", deps, target, ty, "no diagnostics" + note)
    errors = sum(1 for d in diagnostics if d.severity == "error")
    head = f"{plural(errors, 'error')}, {plural(len(diagnostics) - errors, 'other diagnostic')}{note}"
    return summary("ty check", deps, target, ty, head) + "\n" + format_diagnostics(deps, diagnostics)


TY_CHECK = AgentTool(ty_check, kind="search", title=title("ty check"), locate=path_location("path"))
