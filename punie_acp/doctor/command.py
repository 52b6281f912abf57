"""`punie doctor [--json]`: run every check, print them for people or as one JSON object.

Exit status: 0 when the checks ran (their findings are the output, `missing` included), 2 for a
usage or settings error.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

from punie_acp import __version__
from punie_acp.doctor.editors import editor_checks
from punie_acp.doctor.machine import backend_checks, platform_check
from punie_acp.doctor.models import cache_checks, model_checks
from punie_acp.doctor.places import language_server_checks, location_checks, sdk_checks
from punie_acp.doctor.result import Check, Context
from punie_acp.settings import Settings

log = logging.getLogger(__name__)

CHECKS: tuple[Callable[[Context], Check | list[Check]], ...] = (
    platform_check,
    backend_checks,
    model_checks,
    cache_checks,
    language_server_checks,
    editor_checks,
    location_checks,
    sdk_checks,
)


def add_parser(sub: Any) -> None:
    doctor = sub.add_parser(
        "doctor",
        help="check this machine for punie: mlx backend, memory, models, language servers, editor configs",
        description="Each finding is ok, warn or missing, with what to do. Exit status 0 when the checks ran.",
    )
    doctor.add_argument("--json", dest="json_report", action="store_true", help="one JSON object, for scripts")
    doctor.add_argument("--model", help="check this model instead of the configured one")
    doctor.add_argument(
        "--probe-timeout",
        type=float,
        default=30.0,
        metavar="SECONDS",
        help="longest wait for the mlx probe (default 30)",
    )


def run_checks(ctx: Context) -> list[Check]:
    found: list[Check] = []
    for check in CHECKS:
        try:
            result = check(ctx)
        except Exception as exc:  # one broken probe must not hide the others
            log.warning("doctor: %s failed", check.__name__, exc_info=True)
            result = Check(
                check.__name__.removesuffix("_checks").removesuffix("_check"), "warn", f"the check failed: {exc}"
            )
        found.extend(result if isinstance(result, list) else [result])
    return found


def run(args: argparse.Namespace, settings: Settings, out: TextIO | None = None) -> int:
    out = out or sys.stdout
    ctx = Context(settings, os.environ, Path.cwd(), probe_timeout=args.probe_timeout)
    checks = run_checks(ctx)
    if args.json_report:
        counts = {status: sum(c.status == status for c in checks) for status in ("ok", "warn", "missing")}
        report = {
            "punie": __version__,
            "model": settings.model,
            "checks": [c.as_json() for c in checks],
            "summary": counts,
        }
        out.write(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
        return 0
    out.write(f"punie {__version__} doctor (model: {settings.model})\n")
    width = max(len(c.name) for c in checks)
    for c in checks:
        out.write(f"  {c.status:<7} {c.name:<{width}}  {c.detail}\n")
        if c.fix and c.status != "ok":
            out.write(f"  {'':<7} {'':<{width}}  → {c.fix}\n")
        elif c.fix:
            out.write(f"  {'':<7} {'':<{width}}  ({c.fix})\n")
    return 0
