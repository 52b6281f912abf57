"""The HTML report: one self-contained file (inline CSS and SVG, no script, nothing remote).

Everything that came from a suite or a model (prompts, answers, tool arguments and output) is
escaped: a transcript holding `<script>` shows as text.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from html import escape
from typing import Any

from punie_acp.evaluation.charts import Bar, accuracy_colour, bar_chart
from punie_acp.evaluation.scoring import CHECKS

STYLE = """
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,sans-serif;margin:24px;color:#1d2330;max-width:1200px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:18px;margin:28px 0 8px;border-bottom:1px solid #dde2ea}
table{border-collapse:collapse;margin:8px 0}td,th{border:1px solid #dde2ea;padding:3px 7px;text-align:left;
vertical-align:top}th{background:#f4f6f9}.num{text-align:right;font-variant-numeric:tabular-nums}
.pass{color:#1f7a43;font-weight:600}.fail{color:#b42323;font-weight:600}.na{color:#98a1b0}
.big{font-size:30px;font-weight:700}.muted{color:#667085}details{margin:6px 0;border:1px solid #dde2ea;
border-radius:4px;padding:4px 8px}summary{cursor:pointer}pre{white-space:pre-wrap;word-break:break-word;
background:#f7f8fa;padding:6px;margin:4px 0;max-height:400px;overflow:auto}
.entry{margin:4px 0}.thought{color:#667085;font-style:italic}.tool{color:#3b3f99}
svg text{font:12px system-ui,sans-serif;fill:#1d2330}svg .chart-title{font-weight:600;font-size:13px}
"""


def _cell(value: bool | None) -> str:
    if value is None:
        return '<td class="na">–</td>'
    return '<td class="pass">✓</td>' if value else '<td class="fail">✗</td>'


def _n(value: Any) -> str:
    return escape(str(value))


def _seconds(value: Any) -> str:
    return "–" if value is None else f"{float(value):.2f} s"


def _percent(value: Any) -> str:
    return "–" if value is None else f"{100 * float(value):.0f}%"


def _pairs(values: Mapping[str, Any], per_row: int = 3) -> str:
    """A compact key/value table, `per_row` pairs to a row."""
    cells = [f"<th>{escape(str(k))}</th><td>{escape(json.dumps(v, default=str))}</td>" for k, v in values.items()]
    rows = ["".join(cells[i : i + per_row]) for i in range(0, len(cells), per_row)]
    return "<table>" + "".join(f"<tr>{row}</tr>" for row in rows) + "</table>"


def _overview(suites: Sequence[Mapping[str, Any]]) -> str:
    rows = []
    for suite in suites:
        s = suite["summary"]
        rows.append(
            f'<tr><td>{escape(str(suite["name"]))}</td><td class="num">{_percent(s["score"])}</td>'
            f'<td class="num">{_n(s["passed"])} / {_n(s["cases"])}</td>'
            f'<td class="num">{_percent(s["accuracy"].get("decision"))}</td>'
            f'<td class="num">{_percent(s["accuracy"].get("tool"))}</td>'
            f'<td class="num">{_percent(s["accuracy"].get("args"))}</td>'
            f'<td class="num">{_n(s["loop_guard_hits"])}</td><td class="num">{_n(s["requests"])}</td>'
            f'<td class="num">{_seconds(s["ttft_s"]["mean"])}</td>'
            f'<td class="num">{_seconds(s["total_s"]["mean"])}</td></tr>'
        )
    return (
        "<table><tr><th>suite</th><th>score</th><th>passed</th><th>tool vs direct</th><th>right tool</th>"
        "<th>right arguments</th><th>loop guard hits</th><th>model requests</th><th>mean first token</th>"
        f"<th>mean total</th></tr>{''.join(rows)}</table>"
    )


def _header(report: Mapping[str, Any]) -> str:
    model = report.get("model", {})
    summary = report["summary"]
    return (
        f"<h1>punie eval: {escape(str(model.get('name', '?')))}</h1>"
        f'<p class="muted">{escape(str(report.get("started", "")))} → {escape(str(report.get("finished", "")))}, '
        f"punie {escape(str(report.get('punie', '')))}, Python {escape(str(report.get('python', '')))}</p>"
        f'<p><span class="big">{_percent(summary["score"])}</span> of cases passed '
        f"({_n(summary['passed'])} of {_n(summary['cases'])}); loop guard hit {_n(summary['loop_guard_hits'])} times; "
        f"{_n(summary['requests'])} model requests, {_n(summary['tool_calls'])} tool calls.</p>"
        f"{_overview(report['suites'])}"
        f"<h2>Model and settings</h2>{_pairs(model, 2)}"
        f"{_pairs({**report.get('settings', {}), **report.get('options', {})})}"
    )


def _charts(suites: Sequence[Mapping[str, Any]]) -> str:
    accuracy: list[Bar] = []
    for suite in suites:
        summary = suite["summary"]
        accuracy.append(
            Bar(
                f"{suite['name']}: score",
                summary["score"],
                _percent(summary["score"]),
                accuracy_colour(summary["score"]),
            )
        )
        for name in CHECKS:
            value = summary["accuracy"].get(name)
            if value is not None:
                accuracy.append(Bar(f"  {name}", value, _percent(value), accuracy_colour(value)))
    latency: list[Bar] = []
    for suite in suites:
        for case in suite["cases"]:
            metrics = case["metrics"]
            colour = "#2e9d57" if case["passed"] else "#d64545"
            latency.append(
                Bar(
                    f"{suite['name']}/{case['id']}",
                    metrics["total_s"],
                    _seconds(metrics["total_s"]),
                    colour,
                    metrics.get("ttft_s"),
                )
            )
    longest = max((bar.value for bar in latency), default=0.0) or 1.0
    return (
        "<h2>Charts</h2>"
        + bar_chart("Accuracy per suite and check", accuracy, 1.0)
        + bar_chart("Total time per case (tick: first token; green passed, red failed)", latency, longest)
    )


def _suite_table(suite: Mapping[str, Any], index: int) -> str:
    head = "".join(f"<th>{name}</th>" for name in CHECKS)
    rows = []
    for n, case in enumerate(suite["cases"]):
        metrics = case["metrics"]
        checks = "".join(_cell(case["checks"].get(name)) for name in CHECKS)
        rows.append(
            f'<tr><td><a href="#case-{index}-{n}">{escape(str(case["id"]))}</a></td>{_cell(case["passed"])}'
            f"<td>{escape(str(case['expect']))}</td><td>{escape(str(metrics.get('first_tool') or '–'))}</td>{checks}"
            f'<td class="num">{_n(metrics["requests"])}</td><td class="num">{_n(metrics["tool_calls"])}</td>'
            f'<td class="num">{_seconds(metrics["ttft_s"])}</td>'
            f'<td class="num">{_seconds(metrics["total_s"])}</td></tr>'
        )
    summary = suite["summary"]
    return (
        f"<h2>Suite {escape(str(suite['name']))}: {_percent(summary['score'])} "
        f'({summary["passed"]} of {summary["cases"]})</h2><p class="muted">{escape(str(suite.get("description", "")))}'
        f"</p><table><tr><th>case</th><th>passed</th><th>expect</th><th>first tool</th>{head}"
        f"<th>requests</th><th>tool calls</th><th>first token</th><th>total</th></tr>{''.join(rows)}</table>"
    )


def _entry(entry: Mapping[str, Any]) -> str:
    kind = entry.get("kind")
    at = f'<span class="muted">{float(entry.get("t", 0)):.2f} s</span> '
    if kind == "text":
        return f'<div class="entry">{at}answer<pre>{escape(str(entry.get("text", "")))}</pre></div>'
    if kind == "thought":
        return f'<div class="entry thought">{at}thinking<pre>{escape(str(entry.get("text", "")))}</pre></div>'
    if kind == "tool":
        args = escape(json.dumps(entry.get("input"), indent=1, ensure_ascii=False, default=str))
        return (
            f'<div class="entry tool">{at}<b>{escape(str(entry.get("name")))}</b> '
            f"({escape(str(entry.get('tool_kind')))}) {escape(str(entry.get('title')))}<pre>{args}</pre></div>"
        )
    if kind == "result":
        status = '<span class="pass">done</span>' if entry.get("ok") else '<span class="fail">failed</span>'
        return f'<div class="entry">{at}{status}<pre>{escape(str(entry.get("output", "")))}</pre></div>'
    message = entry.get("message")
    extra = f": {escape(str(message))}" if message else ""
    return f'<div class="entry">{at}turn ended ({escape(str(entry.get("stop_reason")))}){extra}</div>'


def _case_details(case: Mapping[str, Any], anchor: str) -> str:
    state = "pass" if case["passed"] else "fail"
    failed = [name for name, value in case["checks"].items() if value is False]
    after = "".join(
        f"<li>{'✓' if a.get('ok') else '✗'} {escape(str(a.get('check')))} {escape(str(a.get('detail', '')))}</li>"
        for a in case.get("after") or []
    )
    transcript = "".join(_entry(e) for e in case.get("transcript") or [] if isinstance(e, Mapping))
    return (
        f'<details id="{anchor}"><summary><span class="{state}">{"passed" if case["passed"] else "failed"}</span> '
        f"<b>{escape(str(case['id']))}</b>: {escape(str(case.get('prompt', ''))[:200])}"
        f"{' — failed: ' + escape(', '.join(failed)) if failed else ''}</summary>"
        f"<p>Prompt:</p><pre>{escape(str(case.get('prompt', '')))}</pre>"
        f"{'<p>Project afterwards:</p><ul>' + after + '</ul>' if after else ''}"
        f"<p>Transcript:</p>{transcript}</details>"
    )


def render_html(report: Mapping[str, Any]) -> str:
    suites = report["suites"]
    body = [_header(report), _charts(suites)]
    for index, suite in enumerate(suites):
        body.append(_suite_table(suite, index))
        body.append("<h3>Transcripts</h3>")
        body.extend(_case_details(case, f"case-{index}-{n}") for n, case in enumerate(suite["cases"]))
    title = escape(f"punie eval: {report.get('model', {}).get('name', '')}")
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">"
        f"<title>{title}</title><style>{STYLE}</style></head><body>{''.join(body)}</body></html>\n"
    )
