"""A case's checks on the project copy after its turn: files (suite.FileCheck) and the fixture's tests.

The copy is the agent's to change, so it is read like any project: through the workspace
resolver (no symlink out of it, no special files), with a size bound.
"""

from __future__ import annotations

from pathlib import Path

import anyio

from punie_acp.evaluation.suite import Case, FileCheck
from punie_acp.tools.process import run_process
from punie_acp.tools.toolchain import find_pytest, local_env
from punie_acp.workspace.root import PathRefused, Workspace
from punie_acp.workspace.safeio import read_bytes

MAX_FILE_BYTES = 2_000_000
TESTS_SECONDS = 120.0


def file_check_holds(root: Path, check: FileCheck) -> bool:
    workspace = Workspace(root)
    try:
        target = workspace.resolve(check.path)
        if not target.exists():
            return not check.exists
        if not check.exists:
            return False
        if check.predicate is None:
            return True
        text = read_bytes(workspace.root, target, MAX_FILE_BYTES).decode("utf-8", errors="replace")
    except (PathRefused, OSError):
        return False  # made unreadable, or replaced by a symlink: not what the case asked for
    finally:
        workspace.close()
    return check.predicate.holds(text)


async def tests_pass(root: Path) -> tuple[bool, str]:
    """Run the copy's tests with pytest (the way `run_pytest` finds it); (passed, a short summary)."""
    program = find_pytest(root)
    if program is None:
        return False, "pytest is not installed"
    argv = [*program.argv, "-q", "-p", "no:cacheprovider"]
    result = await run_process(argv, cwd=root, env=local_env(root), time_limit=TESTS_SECONDS)
    lines = result.output.strip().splitlines()
    return result.ok, (lines[-1] if lines else result.status())[:300]


async def after_checks(root: Path, case: Case) -> tuple[bool | None, list[dict[str, object]]]:
    """(all passed, or None when the case has none; one record per check for the report)."""
    records: list[dict[str, object]] = []
    for check in case.after:
        ok = await anyio.to_thread.run_sync(file_check_holds, root, check)
        records.append({"check": check.describe(), "ok": ok})
    if case.tests_pass:
        ok, summary = await tests_pass(root)
        records.append({"check": "the fixture's tests pass", "ok": ok, "detail": summary})
    if not records:
        return None, records
    return all(bool(r["ok"]) for r in records), records
