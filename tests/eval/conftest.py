"""The three deterministic doubles (tests/support/eval_doubles.py) run once through `punie eval run`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from punie_acp.cli import main
from punie_acp.evaluation.suite import builtin_names, find_suite
from tests.support import eval_doubles


def run_eval(directory: Path, spec: str, *extra: str) -> tuple[int, dict[str, Any], Path]:
    """`punie eval run` in this process; (exit status, the JSON report, the HTML path)."""
    report = directory / "report.json"
    argv = ["eval", "run", "--model", spec, "--json", str(report), "--log-file", str(directory / "punie.log")]
    status = main([*argv, *extra])
    data = json.loads(report.read_text()) if report.exists() else {}
    return status, data, report.with_suffix(".html")


@pytest.fixture(scope="session")
def double_runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[int, dict[str, Any], Path]]:
    suites = [find_suite(name) for name in builtin_names()]
    scripts = {
        "oracle": eval_doubles.oracle(suites),
        "direct": eval_doubles.direct(),
        "looper": eval_doubles.looper(),
    }
    runs = {}
    for name, script in scripts.items():
        directory = tmp_path_factory.mktemp(name)
        runs[name] = run_eval(directory, eval_doubles.write_double(directory, name, script), "--jobs", "4")
    return runs
