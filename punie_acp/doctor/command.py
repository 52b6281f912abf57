"""`punie doctor [--json]`: run every check, print them for people or as one JSON object.

Exit status: 0 when the checks ran (their findings are the output, `missing` included), 2 for a
usage or settings error.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import TextIO

from punie_acp import __version__
from punie_acp.doctor.report import run_checks
from punie_acp.doctor.result import Context
from punie_acp.settings import Settings


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
