"""A case's score: named checks, each passed, failed or not applicable, and the case passes when all
that apply pass. A suite's score is the share of its cases that pass."""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from punie_acp.evaluation.suite import Case

# In report order; README "Evaluate a model" says what each means.
CHECKS = ("decision", "tool", "args", "uses", "keywords", "request_budget", "no_loop", "finished", "after")


@dataclass(frozen=True)
class Observed:
    """What a case's turn did, from its events (transcript.py) and the request counter."""

    calls: Sequence[tuple[str, Any]]
    answer: str
    requests: int
    stop_reason: str  # a TurnEnded stop reason, or "error" / "timeout"
    loop_guard: bool
    after_ok: bool | None  # the project checks afterwards; None when the case has none


def _args(case: Case, calls: Sequence[tuple[str, Any]]) -> bool | None:
    """Each argument check that applies holds; one naming a tool applies only when that tool was called
    (a case may accept grep or workspace_symbols, with a check for each)."""
    names = {name for name, _ in calls}
    applying = [check for check in case.args if check.tool is None or check.tool in names]
    if not applying:
        return None
    return all(check.satisfied_by(list(calls)) for check in applying)


def _uses(case: Case, calls: Sequence[tuple[str, Any]]) -> bool | None:
    """Each entry was called; `edit_file|write_file` accepts either."""
    if not case.uses:
        return None
    names = {name for name, _ in calls}
    return all(not names.isdisjoint(use.split("|")) for use in case.uses)


def score(case: Case, seen: Observed) -> dict[str, bool | None]:
    called = bool(seen.calls)
    first = seen.calls[0][0] if called else None
    answer = seen.answer.casefold()
    checks: dict[str, bool | None] = {
        "decision": called == (case.expect == "tool"),
        "tool": (first in case.tools) if case.expect == "tool" and case.tools else None,
        "args": _args(case, seen.calls),
        "uses": _uses(case, seen.calls),
        "keywords": all(k.casefold() in answer for k in case.keywords) if case.keywords else None,
        "request_budget": seen.requests <= case.max_requests if case.max_requests is not None else None,
        "no_loop": not seen.loop_guard,
        "finished": seen.stop_reason == "end_turn",
        "after": seen.after_ok,
    }
    return checks


def passed(checks: Mapping[str, bool | None]) -> bool:
    return all(value is not False for value in checks.values())


def summarize(cases: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Totals over case records (report.py's shape): the score, each check's accuracy, latencies."""
    count = len(cases)
    accuracy: dict[str, float | None] = {}
    for name in CHECKS:
        applied = [c["checks"][name] for c in cases if c["checks"].get(name) is not None]
        accuracy[name] = round(sum(applied) / len(applied), 4) if applied else None
    totals = [c["metrics"]["total_s"] for c in cases]
    firsts = [c["metrics"]["ttft_s"] for c in cases if c["metrics"]["ttft_s"] is not None]
    return {
        "cases": count,
        "passed": sum(1 for c in cases if c["passed"]),
        "score": round(sum(1 for c in cases if c["passed"]) / count, 4) if count else 0.0,
        "accuracy": accuracy,
        "loop_guard_hits": sum(1 for c in cases if c["metrics"]["loop_guard"]),
        "limit_hits": sum(1 for c in cases if c["metrics"]["limit_hit"]),
        "requests": sum(c["metrics"]["requests"] for c in cases),
        "tool_calls": sum(c["metrics"]["tool_calls"] for c in cases),
        "total_s": _spread(totals),
        "ttft_s": _spread(firsts),
    }


def _spread(values: Sequence[float]) -> dict[str, float | None]:
    if not values:
        return {"mean": None, "median": None, "max": None}
    return {
        "mean": round(statistics.fmean(values), 4),
        "median": round(statistics.median(values), 4),
        "max": round(max(values), 4),
    }
