"""`punie eval compare A.json B.json`: B against A, per suite and per case; a regression fails.

B regresses when its overall score, or any suite's score present in both, is lower than A's by
more than `max_drop` (a share: 0.05 is five points).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from punie_acp.evaluation.scoring import CHECKS


@dataclass
class Comparison:
    lines: list[str] = field(default_factory=list)
    regressions: list[str] = field(default_factory=list)


def _points(a: float | None, b: float | None) -> str:
    if a is None or b is None:
        return f"{_pct(a)} → {_pct(b)}"
    return f"{_pct(a)} → {_pct(b)} ({100 * (b - a):+.0f} points)"


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:.0f}%"


def _secs(a: Any, b: Any) -> str:
    if a is None or b is None:
        return f"{'–' if a is None else f'{a:.2f} s'} → {'–' if b is None else f'{b:.2f} s'}"
    ratio = f", ×{b / a:.2f}" if a else ""
    return f"{a:.2f} s → {b:.2f} s ({b - a:+.2f} s{ratio})"


def _case_line(a: Mapping[str, Any], b: Mapping[str, Any]) -> str | None:
    notes = []
    if a["passed"] != b["passed"]:
        notes.append("fixed" if b["passed"] else "REGRESSED")
    for name in CHECKS:
        before, after = a["checks"].get(name), b["checks"].get(name)
        if before != after and not (before is None or after is None):
            notes.append(f"{name} {'✓' if before else '✗'}→{'✓' if after else '✗'}")
    tool_a, tool_b = a["metrics"].get("first_tool"), b["metrics"].get("first_tool")
    if tool_a != tool_b:
        notes.append(f"first tool {tool_a or 'none'} → {tool_b or 'none'}")
    if not notes:
        return None
    return f"    {b['id']}: {'; '.join(notes)}; total {_secs(a['metrics']['total_s'], b['metrics']['total_s'])}"


def _suite(a: Mapping[str, Any], b: Mapping[str, Any], max_drop: float, out: Comparison) -> None:
    sa, sb = a["summary"], b["summary"]
    out.lines.append(f"suite {b['name']}: score {_points(sa['score'], sb['score'])}")
    for name in CHECKS:
        before, after = sa["accuracy"].get(name), sb["accuracy"].get(name)
        if before != after:
            out.lines.append(f"  {name}: {_points(before, after)}")
    out.lines.append(f"  mean total time: {_secs(sa['total_s']['mean'], sb['total_s']['mean'])}")
    out.lines.append(f"  mean first token: {_secs(sa['ttft_s']['mean'], sb['ttft_s']['mean'])}")
    cases_a = {case["id"]: case for case in a["cases"]}
    for case in b["cases"]:
        if case["id"] not in cases_a:
            out.lines.append(f"    {case['id']}: only in B")
            continue
        line = _case_line(cases_a[case["id"]], case)
        if line:
            out.lines.append(line)
    for ident in sorted(set(cases_a) - {case["id"] for case in b["cases"]}):
        out.lines.append(f"    {ident}: only in A")
    if sb["score"] < sa["score"] - max_drop:
        out.regressions.append(f"suite {b['name']}: {_points(sa['score'], sb['score'])}")


def compare(a: Mapping[str, Any], b: Mapping[str, Any], max_drop: float) -> Comparison:
    out = Comparison()
    out.lines.append(f"A: {a.get('model', {}).get('name', '?')} ({a.get('started', '?')})")
    out.lines.append(f"B: {b.get('model', {}).get('name', '?')} ({b.get('started', '?')})")
    out.lines.append(f"overall score: {_points(a['summary']['score'], b['summary']['score'])}")
    suites_a = {suite["name"]: suite for suite in a["suites"]}
    for suite in b["suites"]:
        if suite["name"] in suites_a:
            _suite(suites_a[suite["name"]], suite, max_drop, out)
        else:
            out.lines.append(f"suite {suite['name']}: only in B")
    for name in sorted(set(suites_a) - {suite["name"] for suite in b["suites"]}):
        out.lines.append(f"suite {name}: only in A")
    if b["summary"]["score"] < a["summary"]["score"] - max_drop:
        out.regressions.insert(0, f"overall: {_points(a['summary']['score'], b['summary']['score'])}")
    return out
