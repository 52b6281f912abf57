"""Read-only git tools: `git_status`, `git_diff`, `git_log`, confined to the project root.

They ask no permission, so git runs in the sandbox of `gitsafe`: no configuration the repository
chose is read (nothing it names can run), no part of the repository may lie outside the project,
and every path from the model reaches git after `--`, absolute and literal.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pydantic_ai import RunContext
from pydantic_ai.exceptions import ToolFailed

from punie_acp.core.context import ToolContext
from punie_acp.core.tooling import AgentTool, path_location
from punie_acp.tools.checks import plural, show_locations
from punie_acp.tools.errors import resolve_or_fail
from punie_acp.tools.gitsafe import GitSandbox, git_sandbox
from punie_acp.tools.output import OUTPUT_HEAD, OUTPUT_TAIL, OutputCap
from punie_acp.tools.process import ProcessResult

MAX_ENTRIES = 200
MAX_LOG = 100
_CONFLICTS = {"DD", "AU", "UD", "UA", "DU", "AA", "UU"}


async def _git(sandbox: GitSandbox, args: list[str], pathspecs: list[str]) -> ProcessResult:
    result = await sandbox.run(args, pathspecs)
    if not result.ok:
        detail = result.errors.strip() or result.status()
        raise ToolFailed(f"git {args[0]} failed: {detail[-2000:]}")
    return result


def _listing(title: str, entries: list[str]) -> list[str]:
    if not entries:
        return []
    lines = [f"{title}:"] + [f"  {e}" for e in entries[:MAX_ENTRIES]]
    if len(entries) > MAX_ENTRIES:
        lines.append(f"  [… and {len(entries) - MAX_ENTRIES} more]")
    return lines


def _branch_line(header: str) -> str:
    # "## main...origin/main [ahead 1, behind 2]" or "## No commits yet on main" or "## HEAD (no branch)"
    text = header.removeprefix("## ")
    match = re.match(r"(?P<local>\S+?)(?:\.\.\.(?P<remote>\S+))?(?: \[(?P<track>[^\]]+)\])?$", text)
    if not match or text.startswith(("No commits yet", "HEAD (no branch)")):
        return text
    line = f"on branch {match['local']}"
    if match["remote"]:
        line += f", tracking {match['remote']}"
    if match["track"]:
        line += f" ({match['track']})"
    return line


async def git_status(ctx: RunContext[ToolContext]) -> str:
    """Show the branch and which files in the project are staged, modified, untracked or in conflict."""
    deps = ctx.deps
    status = ["status", "--porcelain=v1", "-z", "--branch", "--untracked-files=all", "--ignore-submodules=all"]
    async with git_sandbox(deps.workspace.root) as sandbox:
        await sandbox.check_index_paths()
        result = await _git(sandbox, status, ["."])
    top = sandbox.layout.top
    fields = result.output.split("\0")
    branch = _branch_line(fields[0]) if fields and fields[0].startswith("## ") else ""
    staged: list[str] = []
    unstaged: list[str] = []
    untracked: list[str] = []
    conflicts: list[str] = []
    i = 1 if branch else 0
    while i < len(fields):
        entry = fields[i]
        i += 1
        if len(entry) < 4:
            continue
        code, name = entry[:2], deps.workspace.relative(top / entry[3:])
        if code[0] in "RC":  # a rename or copy: the next field is where it came from
            name = f"{deps.workspace.relative(top / fields[i])} -> {name}"
            i += 1
        if code == "??":
            untracked.append(name)
        elif code in _CONFLICTS:
            conflicts.append(f"{code} {name}")
        else:
            if code[0] not in " ?!":
                staged.append(f"{code[0]} {name}")
            if code[1] not in " ?!":
                unstaged.append(f"{code[1]} {name}")
    lines = [branch] if branch else []
    lines += _listing("staged", staged) + _listing("not staged", unstaged)
    lines += _listing("untracked", untracked) + _listing("conflicts", conflicts)
    if not (staged or unstaged or untracked or conflicts):
        lines.append("nothing changed: the working tree is clean")
    return "\n".join(lines)


_PATCH_FILE = re.compile(r"^(---|\+\+\+) (?:[ab]/)?(.+?)\t?$")
_BINARY = re.compile(r"^Binary files (?:a/)?(.+?) and (?:b/)?(.+?) differ$")
_HUNK = re.compile(r"^@@ -\d+(?:,\d+)? \+(\d+)(?:,\d+)? @@")


@dataclass
class FileChange:
    path: str  # as git prints it: relative to the repository's top level
    added: int = 0
    removed: int = 0
    first_line: int | None = None  # first changed line in the new version


def diff_summary(patch: str) -> list[FileChange]:
    files: dict[str, FileChange] = {}
    current: FileChange | None = None
    in_header = False
    old_name = ""

    def file(name: str) -> FileChange:
        return files.setdefault(name, FileChange(name))

    for line in patch.splitlines():
        if line.startswith("diff --git "):
            in_header, current = True, None
            continue
        if in_header:
            header = _PATCH_FILE.match(line)
            binary = _BINARY.match(line)
            if header and header.group(1) == "---":
                old_name = header.group(2)
            elif header:
                current = file(old_name if header.group(2) == "/dev/null" else header.group(2))
                in_header = False
            elif binary:
                file(binary.group(1) if binary.group(2) == "/dev/null" else binary.group(2))
            elif line.startswith("rename to "):
                current = file(line.removeprefix("rename to "))
            continue
        if current is None:
            continue
        hunk = _HUNK.match(line)
        if hunk:
            if current.first_line is None:
                current.first_line = int(hunk.group(1))
        elif line.startswith("+"):
            current.added += 1
        elif line.startswith("-"):
            current.removed += 1
    return list(files.values())


async def git_diff(ctx: RunContext[ToolContext], path: str | None = None, staged: bool = False) -> str:
    """Show uncommitted changes as a unified diff, with a per-file summary.

    Args:
        path: Only changes under this file or directory (relative to the project root).
        staged: Show the changes staged for commit instead of those not yet staged.
    """
    deps = ctx.deps
    target = resolve_or_fail(deps.workspace, path)
    args = ["diff", "--no-color", "--no-ext-diff", "--no-textconv", "--ignore-submodules=all"]
    args += ["--src-prefix=a/", "--dst-prefix=b/", *(["--cached"] if staged else [])]
    async with git_sandbox(deps.workspace.root) as sandbox:
        await sandbox.check_index_paths()
        result = await _git(sandbox, args, [str(target)])
    top = sandbox.layout.top
    which = "staged" if staged else "unstaged"
    where = deps.workspace.relative(target)
    if not result.output.strip():
        hint = "" if staged else " (new, untracked files do not appear in a diff; see git_status)"
        return f"no {which} changes in {where}{hint}"
    files = diff_summary(result.output)
    await show_locations(deps, ctx.tool_call_id, [(top / f.path, f.first_line) for f in files])
    added = sum(f.added for f in files)
    removed = sum(f.removed for f in files)
    lines = [f"{plural(len(files), 'file')} with {which} changes in {where}: +{added} -{removed}"]
    lines += [f"  {deps.workspace.relative(top / f.path)} +{f.added} -{f.removed}" for f in files]
    cap = OutputCap(OUTPUT_HEAD, OUTPUT_TAIL)
    cap.feed(result.output.encode())
    return "\n".join(lines) + "\n\n" + cap.text().rstrip("\n")


async def git_log(ctx: RunContext[ToolContext], limit: int = 10, path: str | None = None) -> str:
    """List recent commits: short hash, date, author and subject.

    Args:
        limit: How many commits, newest first (at most 100).
        path: Only commits that touched this file or directory.
    """
    deps = ctx.deps
    target = resolve_or_fail(deps.workspace, path)
    count = max(1, min(limit, MAX_LOG))
    fmt = "--format=%h%x1f%ad%x1f%an%x1f%s%x1e"
    args = ["log", f"-n{count}", "--no-color", "--no-show-signature", "--no-notes", "--date=short", fmt]
    try:
        async with git_sandbox(deps.workspace.root) as sandbox:
            result = await _git(sandbox, args, [str(target)])
    except ToolFailed as exc:
        if "does not have any commits" in str(exc):
            return "no commits yet"
        raise
    lines = []
    for record in result.output.split("\x1e"):
        parts = record.strip("\n").split("\x1f")
        if len(parts) == 4:
            sha, date, author, subject = parts
            lines.append(f"{sha} {date} {author}: {subject}")
    return "\n".join(lines) if lines else f"no commits touch {deps.workspace.relative(target)}"


def _diff_title(args: Mapping[str, Any]) -> str:
    path = args.get("path")
    title = f"git diff {path}" if isinstance(path, str) and path else "git diff"
    return title + (" --staged" if args.get("staged") else "")


def _log_title(args: Mapping[str, Any]) -> str:
    path = args.get("path")
    return f"git log {path}" if isinstance(path, str) and path else "git log"


GIT_STATUS = AgentTool(git_status, kind="read", title=lambda args: "git status")
GIT_DIFF = AgentTool(git_diff, kind="read", title=_diff_title, locate=path_location("path"))
GIT_LOG = AgentTool(git_log, kind="read", title=_log_title, locate=path_location("path"))
