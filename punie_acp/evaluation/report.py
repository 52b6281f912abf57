"""The run's record (JSON): what ran (model identity, settings, punie), every case, and the totals.

Another run is compared with it (compare.py) and the HTML report is drawn from it (html.py).
"""

from __future__ import annotations

import hashlib
import json
import platform
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from punie_acp import __version__
from punie_acp.config import Settings
from punie_acp.evaluation.scoring import summarize

FORMAT = "punie-eval/1"
MAX_REPORT_BYTES = 200_000_000
# What shapes the answers: recorded so a run can be repeated and two runs compared fairly.
RECORDED_SETTINGS = (
    "model",
    "tool_style",
    "max_tokens",
    "temperature",
    "top_p",
    "seed",
    "request_limit",
    "tool_calls_limit",
    "context_tokens",
    "draft_model",
    "num_draft_tokens",
    "mode",
    "command_timeout",
)


class ReportError(ValueError):
    """A report file that cannot be read; one line."""


def model_identity(spec: str, backend_name: str) -> dict[str, Any]:
    """The model as precisely as it can be named: for a directory or a script, a hash of its files."""
    if spec.startswith(("http://", "https://")):
        parts = urlsplit(spec)
        # No credentials or query (a token) in a report that may be shared.
        shown = f"{parts.scheme}://{parts.hostname}{f':{parts.port}' if parts.port else ''}{parts.path}"
        return {"spec": shown, "name": backend_name, "kind": "openai-compatible"}
    if spec.startswith("script:"):
        path = Path(spec[len("script:") :]).expanduser()
        return {"spec": spec, "name": backend_name, "kind": "script", "sha256": _file_hash(path)}
    if spec == "test":
        return {"spec": spec, "name": backend_name, "kind": "test"}
    path = Path(spec).expanduser()
    if path.is_dir():
        from punie_acp.models.mlx.persist import model_identity as files_identity

        return {"spec": spec, "name": backend_name, "kind": "mlx", "identity": files_identity(path)}
    return {"spec": spec, "name": backend_name, "kind": "mlx (hub id)"}


def _file_hash(path: Path) -> str | None:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return None


def build_report(
    suites: list[dict[str, Any]],
    settings: Settings,
    identity: dict[str, Any],
    options: dict[str, Any],
    started: datetime,
) -> dict[str, Any]:
    every_case = [case for suite in suites for case in suite["cases"]]
    return {
        "format": FORMAT,
        "punie": __version__,
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "started": started.isoformat(timespec="seconds"),
        "finished": datetime.now(UTC).isoformat(timespec="seconds"),
        "model": identity,
        "settings": {name: getattr(settings, name) for name in RECORDED_SETTINGS} | {"model": identity["spec"]},
        "options": options,
        "suites": suites,
        "summary": summarize(every_case),
    }


def write_report(report: dict[str, Any], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=1, ensure_ascii=False, default=str) + "\n", encoding="utf-8")


def read_report(path: Path) -> dict[str, Any]:
    """A report written by `punie eval run`; raises `ReportError`."""
    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_REPORT_BYTES + 1)
    except OSError as exc:
        raise ReportError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    if len(data) > MAX_REPORT_BYTES:
        raise ReportError(f"{path}: larger than {MAX_REPORT_BYTES // 1_000_000} MB")
    try:
        report = json.loads(data)
    except (ValueError, RecursionError):
        raise ReportError(f"{path}: not JSON; give a report written by `punie eval run`") from None
    if not isinstance(report, dict) or report.get("format") != FORMAT:
        raise ReportError(f"{path}: not a {FORMAT} report written by `punie eval run`")
    if not _well_formed(report):
        raise ReportError(f"{path}: a {FORMAT} report, but its suites or cases are malformed")
    return report


def _well_formed(report: dict[str, Any]) -> bool:
    suites = report.get("suites")
    if not isinstance(suites, list) or not isinstance(report.get("summary"), dict):
        return False
    for suite in suites:
        if not isinstance(suite, dict) or not isinstance(suite.get("name"), str):
            return False
        cases = suite.get("cases")
        if not isinstance(cases, list) or not isinstance(suite.get("summary"), dict):
            return False
        for case in cases:
            if not isinstance(case, dict) or not isinstance(case.get("id"), str):
                return False
            if not isinstance(case.get("checks"), dict) or not isinstance(case.get("metrics"), dict):
                return False
    return True
