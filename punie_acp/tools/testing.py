"""`run_pytest`: the project's tests, with counts, failures at file:line and durations.

pytest imports and runs project code, so it asks permission like any command ("execute").
It always runs as a local subprocess (its output streams into the tool call): a small plugin
(`data/punie_pytest_report.py`, put on the project Python's path from a temp dir) writes
every test report as JSON, so nothing depends on pytest's terminal output.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
from pydantic_ai import RunContext
from pydantic_ai.exceptions import ToolFailed

from punie_acp.core.context import ToolContext
from punie_acp.core.events import TextContent
from punie_acp.core.host import PermissionRequest
from punie_acp.core.tooling import AgentTool
from punie_acp.tools.checks import plural, show_locations
from punie_acp.tools.commands import LIVE_BLOCK, clamp_timeout, fenced, short, with_status
from punie_acp.tools.errors import resolve_or_fail
from punie_acp.tools.process import ProcessResult, run_process
from punie_acp.tools.toolchain import find_pytest, local_env

PLUGIN = Path(__file__).parent / "data" / "punie_pytest_report.py"
MAX_FAILURES_SHOWN = 10
FAILURE_TEXT_LINES = 25
SLOWEST = 5
_VENDORED = ("site-packages", "dist-packages", ".venv", "/venv/", "_pytest", "pluggy")


@dataclass
class Outcome:
    nodeid: str
    status: str = "passed"  # passed failed error skipped xfailed xpassed
    duration: float = 0.0
    where: tuple[Path, int] | None = None
    message: str = ""
    text: str = ""
    phase: str = "call"


def _place(root: Path, raw: str) -> Path:
    path = Path(raw)
    return path if path.is_absolute() else (root / path).resolve()


def _failure_site(root: Path, report: Mapping[str, Any]) -> tuple[Path, int] | None:
    """The innermost traceback line in the project's own code, else the crash, else the test."""
    for raw, line in reversed(report.get("entries") or []):
        path = _place(root, str(raw))
        if (path == root or root in path.parents) and not any(v in str(path) for v in _VENDORED):
            return path, int(line)
    crash = report.get("crash")
    if crash:
        return _place(root, str(crash["path"])), int(crash["line"])
    if report.get("file"):
        line = report.get("line")
        return _place(root, str(report["file"])), (int(line) + 1 if isinstance(line, int) else 1)
    return None


def summarize(root: Path, data: Mapping[str, Any]) -> list[Outcome]:
    """One outcome per test (setup, call and teardown folded) and per failed collection."""
    tests: dict[str, Outcome] = {}
    for report in data.get("reports", []):
        nodeid = str(report.get("nodeid") or report.get("file") or "?")
        outcome = tests.setdefault(nodeid, Outcome(nodeid))
        outcome.duration += float(report.get("duration") or 0.0)
        when, result = report.get("when"), report.get("outcome")
        if result == "failed":
            if outcome.status in ("failed", "error"):
                continue  # the first failure of a test is the one worth showing
            outcome.status = "failed" if when == "call" else "error"
            outcome.phase = str(when)
            outcome.where = _failure_site(root, report)
            crash = report.get("crash") or {}
            outcome.message = str(crash.get("message") or "").strip()
            outcome.text = str(report.get("text") or "")
        elif result == "skipped" and outcome.status == "passed":
            outcome.status = "xfailed" if report.get("xfail") else "skipped"
            outcome.message = str(report.get("text") or "")
        elif result == "passed" and when == "call" and report.get("xfail"):
            outcome.status = "xpassed"
    return list(tests.values())


def _counts(outcomes: list[Outcome]) -> str:
    order = ("failed", "error", "passed", "skipped", "xfailed", "xpassed")
    counts = {s: sum(1 for o in outcomes if o.status == s) for s in order}
    parts = [plural(n, s) if s == "error" else f"{n} {s}" for s, n in counts.items() if n]
    return ", ".join(parts) or "no tests ran"


def _tail_lines(text: str, count: int) -> str:
    lines = text.rstrip("\n").splitlines()
    cut = len(lines) - count
    shown = lines[-count:] if cut > 0 else lines
    return "\n".join((["    […]"] if cut > 0 else []) + ["    " + line for line in shown])


def report_text(deps: ToolContext, outcomes: list[Outcome], result: ProcessResult, origin: str, target: Path) -> str:
    where = deps.workspace.relative(target)
    lines = [f"pytest {where} ({origin}): {_counts(outcomes)} in {result.duration:.2f} s ({result.status()})"]
    bad = [o for o in outcomes if o.status in ("failed", "error")]
    for o in bad[:MAX_FAILURES_SHOWN]:
        site = f" at {deps.workspace.relative(o.where[0])}:{o.where[1]}" if o.where else ""
        label = "FAILED" if o.status == "failed" else f"ERROR ({o.phase})"
        lines.append(f"{label} {o.nodeid}{site}")
        lines.append(_tail_lines(o.text or o.message, FAILURE_TEXT_LINES))
    if len(bad) > MAX_FAILURES_SHOWN:
        lines.append(f"[… and {len(bad) - MAX_FAILURES_SHOWN} more failures]")
    timed = sorted((o for o in outcomes if o.duration > 0), key=lambda o: o.duration, reverse=True)[:SLOWEST]
    if timed:
        lines.append("slowest: " + ", ".join(f"{o.nodeid} {o.duration:.2f} s" for o in timed))
    return "\n".join(lines)


def _node_target(deps: ToolContext, path: str | None) -> tuple[Path, str]:
    """A file, directory or node id ('tests/test_a.py::test_b') confined to the root."""
    file_part, sep, rest = (path or ".").partition("::")
    target = resolve_or_fail(deps.workspace, file_part)
    return target, str(target) + (sep + rest if sep else "")


async def run_pytest(
    ctx: RunContext[ToolContext],
    path: str | None = None,
    keyword: str | None = None,
    timeout: float | None = None,  # noqa: ASYNC109 (the model's argument, enforced below)
) -> str:
    """Run the project's tests with pytest: counts, each failure at file:line with its traceback, durations.

    Args:
        path: Test file, directory or node id ('tests/test_x.py::test_y'); default: the whole project.
        keyword: Only tests matching this pytest -k expression.
        timeout: Seconds before the run is killed (default from settings).
    """
    deps = ctx.deps
    root = deps.workspace.root
    target, node = _node_target(deps, path)
    program = find_pytest(root)
    if program is None:
        raise ToolFailed("pytest is not installed (not in the project's virtualenv, on PATH, or beside punie)")
    limit = clamp_timeout(timeout, deps.settings.command_timeout)
    args = ["-p", "punie_pytest_report", "--color=no", "--tb=short", "--continue-on-collection-errors"]
    args += [*(["-k", keyword] if keyword else []), node]
    shown = " ".join(["pytest", *args[2:]])
    request = PermissionRequest(
        call_id=ctx.tool_call_id or "",
        title=f"Run `{short(shown)}`",
        kind="execute",
        raw_input={"command": shown, "cwd": str(root), "timeout": limit, "pytest": program.origin},
    )
    await deps.permissions.require("execute", request)  # refused: a failed call; cancelled: the turn ends
    call_id = ctx.tool_call_id

    async def live(text: str) -> None:
        if call_id:
            await deps.report(call_id, content=(TextContent(fenced(text)),), block=LIVE_BLOCK)

    with tempfile.TemporaryDirectory(prefix="punie-pytest-") as scratch:
        await anyio.Path(scratch, "punie_pytest_report.py").write_bytes(await anyio.Path(PLUGIN).read_bytes())
        report_file = Path(scratch, "report.json")
        env = local_env(root)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (scratch, env.get("PYTHONPATH", "")) if p)
        env["PUNIE_PYTEST_REPORT"] = str(report_file)
        try:
            result = await run_process([*program.argv, *args], cwd=root, env=env, time_limit=limit, live=live)
        except OSError as exc:
            raise ToolFailed(f"could not start pytest ({program.origin}): {exc}") from exc
        if call_id:
            await deps.report(call_id, block=LIVE_BLOCK)
        try:
            data = json.loads(await anyio.Path(report_file).read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            data = None
    if data is None:  # pytest did not get to the end: usage error, crash, timeout
        raise ToolFailed(with_status(result.output, result.status(), f" (pytest from {program.origin})"))
    outcomes = summarize(root, data)
    sites = [o.where for o in outcomes if o.where and o.status in ("failed", "error")]
    await show_locations(deps, call_id, [(p, line) for p, line in sites])
    text = report_text(deps, outcomes, result, program.origin, target)
    # Failing tests are a result, not a failure of the tool (0 passed, 1 tests failed,
    # 2 interrupted by collection errors, 5 nothing collected); 3 and 4 are pytest's own errors.
    if data.get("exitstatus") in (0, 1, 2, 5) and not result.timed_out:
        return text
    raise ToolFailed(text + "\n" + result.output[-3000:])


def _title(args: Mapping[str, Any]) -> str:
    path = args.get("path")
    return f"pytest {path}" if isinstance(path, str) and path else "pytest"


RUN_PYTEST = AgentTool(run_pytest, kind="execute", title=_title)
