"""`punie eval` against deterministic fabricated models, each with a score known in advance (the CI gate)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from punie_acp.evaluation.suite import builtin_names, find_suite
from tests.eval.conftest import run_eval
from tests.support import eval_doubles

Runs = dict[str, tuple[int, dict[str, Any], Path]]


def _suite(report: dict[str, Any], name: str) -> dict[str, Any]:
    return next(s for s in report["suites"] if s["name"] == name)


def test_the_builtin_suites_are_a_discrimination_suite_of_30_and_a_multistep_suite() -> None:
    assert builtin_names() == ["discrimination", "multistep"]
    discrimination = find_suite("discrimination")
    assert len(discrimination.cases) == 30
    assert sum(c.expect == "direct" for c in discrimination.cases) == 12
    multistep = find_suite("multistep")
    assert all(c.tests_pass or c.keywords for c in multistep.cases)


def test_the_oracle_passes_every_case(double_runs: Runs) -> None:
    status, report, _ = double_runs["oracle"]
    assert status == 0
    assert report["summary"]["score"] == 1.0
    assert report["summary"]["passed"] == report["summary"]["cases"] == 34
    assert report["summary"]["loop_guard_hits"] == 0
    # Every check that applies somewhere is at 100%: the references solve their cases, the
    # multi-step fixture's tests pass afterwards (run by the evaluator), the edits landed.
    assert all(v in (1.0, None) for v in report["summary"]["accuracy"].values())
    multistep = _suite(report, "multistep")
    fix = next(c for c in multistep["cases"] if c["id"] == "fix-failing-test")
    assert fix["after"][-1] == {"check": "the fixture's tests pass", "ok": True, "detail": fix["after"][-1]["detail"]}
    assert "4 passed" in fix["after"][-1]["detail"]
    assert fix["after"][0] == {"check": "shop/pricing.py matches 'percent\\s*/\\s*100'", "ok": True}
    # The first test run (before the fix) failed in the transcript: the tool really ran on the buggy copy.
    results = [e for e in fix["transcript"] if e["kind"] == "result"]
    assert "failed" in results[0]["output"] and "passed" in results[-1]["output"]
    assert fix["metrics"]["requests"] == 5  # four calls and the answer


def test_the_direct_double_passes_exactly_the_direct_cases(double_runs: Runs) -> None:
    status, report, _ = double_runs["direct"]
    assert status == 0  # no threshold given
    discrimination = _suite(report, "discrimination")
    assert discrimination["summary"]["score"] == 0.4  # 12 direct cases of 30
    assert discrimination["summary"]["accuracy"]["decision"] == 0.4
    assert {c["id"] for c in discrimination["cases"] if c["passed"]} == {
        c.id for c in find_suite("discrimination").cases if c.expect == "direct"
    }
    assert _suite(report, "multistep")["summary"]["score"] == 0.0
    assert report["summary"]["passed"] == 12
    assert report["summary"]["tool_calls"] == 0
    assert report["summary"]["requests"] == 34  # one request per case, counted around the backend


def test_the_looper_hits_the_loop_guard_on_every_case(double_runs: Runs) -> None:
    status, report, _ = double_runs["looper"]
    assert status == 0  # no threshold given
    assert report["summary"]["score"] == 0.0
    assert report["summary"]["loop_guard_hits"] == 34
    assert report["summary"]["limit_hits"] == 0
    for suite in report["suites"]:
        for case in suite["cases"]:
            assert case["checks"]["no_loop"] is False
            assert case["metrics"]["stop_reason"] == "max_turn_requests"
            assert case["metrics"]["requests"] == 2  # the repeat is refused at once


def test_a_score_below_the_threshold_exits_1(tmp_path: Path) -> None:
    spec = eval_doubles.write_double(tmp_path, "direct", eval_doubles.direct())
    status, report, _ = run_eval(tmp_path, spec, "discrimination", "--threshold", "0.5")
    assert status == 1 and report["summary"]["score"] == 0.4  # the report is written all the same
    status, _, _ = run_eval(tmp_path, spec, "discrimination", "--threshold", "0.4")
    assert status == 0


def test_the_report_records_the_model_and_settings(tmp_path: Path) -> None:
    spec = eval_doubles.write_double(tmp_path, "direct", eval_doubles.direct())
    _, report, html = run_eval(tmp_path, spec, "discrimination", "--seed", "7", "--temperature", "0.5", "--jobs", "3")
    assert report["format"] == "punie-eval/1"
    assert report["model"]["kind"] == "script" and len(report["model"]["sha256"]) == 64
    assert report["settings"]["seed"] == 7 and report["settings"]["temperature"] == 0.5
    assert report["options"]["jobs"] == 3
    assert html.read_text().startswith("<!DOCTYPE html>")


def test_the_installed_command_runs_and_gates(tmp_path: Path) -> None:
    spec = eval_doubles.write_double(tmp_path, "direct", eval_doubles.direct())
    argv = [sys.executable, "-m", "punie_acp", "eval", "run", "multistep", "--model", spec, "--threshold", "0.5"]
    argv += ["--json", str(tmp_path / "r.json"), "--log-file", str(tmp_path / "log")]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=300, env=dict(os.environ), check=False)
    assert done.returncode == 1
    assert done.stderr.strip().splitlines()[-1] == "punie: score 0% is below the threshold 50%"
    assert "multistep: 0/4 passed (0%)" in done.stdout
