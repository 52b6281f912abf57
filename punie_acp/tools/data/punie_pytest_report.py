"""pytest plugin punie loads into a project's test run (`-p punie_pytest_report`).

It writes every test and collection report as JSON to the file named by
`$PUNIE_PYTEST_REPORT`. It runs under the project's Python, so it uses only the standard
library and pytest's long-stable hooks and report attributes, and old syntax.
"""

from __future__ import annotations

import json
import os
from typing import Any

_REPORTS: list[dict[str, Any]] = []
_TEXT_LIMIT = 6000


def _entries(longrepr: Any) -> list[list[Any]]:
    chain = getattr(longrepr, "chain", None)
    traceback = chain[-1][0] if chain else getattr(longrepr, "reprtraceback", None)
    found = []
    for entry in getattr(traceback, "reprentries", None) or []:
        where = getattr(entry, "reprfileloc", None)
        if where is not None:
            found.append([str(where.path), int(where.lineno)])
    return found


def _crash(longrepr: Any) -> dict[str, Any] | None:
    crash = getattr(longrepr, "reprcrash", None)
    if crash is None:
        return None
    return {"path": str(crash.path), "line": int(crash.lineno), "message": str(crash.message)}


def _record(report: Any) -> None:
    longrepr = report.longrepr
    location = getattr(report, "location", None)
    item: dict[str, Any] = {
        "nodeid": report.nodeid,
        "when": getattr(report, "when", "collect"),
        "outcome": report.outcome,
        "duration": float(getattr(report, "duration", 0.0) or 0.0),
        "file": str(location[0]) if location else None,
        "line": location[1] if location and isinstance(location[1], int) else None,  # 0-based
        "xfail": hasattr(report, "wasxfail"),
        "crash": None,
        "entries": [],
        "text": "",
    }
    if report.failed:
        item["crash"] = _crash(longrepr)
        item["entries"] = _entries(longrepr)
        try:
            text = report.longreprtext
        except Exception:
            text = str(longrepr)
        item["text"] = text[-_TEXT_LIMIT:]
    elif report.skipped and isinstance(longrepr, tuple) and len(longrepr) == 3:
        item["text"] = str(longrepr[2])
    _REPORTS.append(item)


def pytest_runtest_logreport(report: Any) -> None:
    _record(report)


def pytest_collectreport(report: Any) -> None:
    if report.failed:
        _record(report)


def pytest_sessionfinish(session: Any, exitstatus: Any) -> None:
    target = os.environ.get("PUNIE_PYTEST_REPORT")
    if target and not hasattr(session.config, "workerinput"):  # pytest-xdist: only the controller writes
        with open(target, "w", encoding="utf-8") as handle:
            json.dump({"exitstatus": int(exitstatus), "reports": _REPORTS}, handle)
