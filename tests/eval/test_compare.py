"""`punie eval compare A.json B.json`: deltas per suite and case, and a non-zero exit when B regresses."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from punie_acp.cli import main

Runs = dict[str, tuple[int, dict[str, Any], Path]]


def _compare(runs: Runs, a: str, b: str, *extra: str) -> int:
    return main(["eval", "compare", str(runs[a][2].with_suffix(".json")), str(runs[b][2].with_suffix(".json")), *extra])


def test_a_worse_model_fails_the_comparison(double_runs: Runs, capsys: pytest.CaptureFixture[str]) -> None:
    assert _compare(double_runs, "oracle", "direct") == 1
    out, err = capsys.readouterr()
    assert "overall score: 100% → 35% (-65 points)" in out
    assert "suite discrimination: score 100% → 40% (-60 points)" in out
    assert "    django-views: REGRESSED; decision ✓→✗" in out
    assert "first tool grep → none" in out
    assert "mean total time:" in out
    assert err.strip().startswith("punie: B regresses") and "\n" not in err.strip()


def test_a_better_or_equal_model_passes(double_runs: Runs, capsys: pytest.CaptureFixture[str]) -> None:
    assert _compare(double_runs, "direct", "oracle") == 0
    assert "    django-views: fixed" in capsys.readouterr().out
    assert _compare(double_runs, "oracle", "oracle") == 0
    capsys.readouterr()
    # Overall -65 points is within 0.7, but a suite's -100 is not; with 1.0 every drop is tolerated.
    assert _compare(double_runs, "oracle", "direct", "--max-drop", "0.7") == 1
    assert capsys.readouterr().err.strip().endswith("suite multistep: 100% → 0% (-100 points)")
    assert _compare(double_runs, "oracle", "direct", "--max-drop", "1") == 0


def test_unreadable_reports_are_one_line(tmp_path: Path, double_runs: Runs, capsys: pytest.CaptureFixture[str]) -> None:
    good = str(double_runs["oracle"][2].with_suffix(".json"))
    bad_json = tmp_path / "bad.json"
    bad_json.write_text("{not json")
    other = tmp_path / "other.json"
    other.write_text(json.dumps({"format": "something-else"}))
    broken = tmp_path / "broken.json"
    broken.write_text(json.dumps({"format": "punie-eval/1", "suites": [{"name": 1}], "summary": {}}))
    wrong_types = tmp_path / "types.json"
    report = json.loads(Path(good).read_text())
    report["summary"]["score"] = "high"
    wrong_types.write_text(json.dumps(report))
    for path in (bad_json, other, broken, wrong_types, tmp_path / "missing.json"):
        assert main(["eval", "compare", good, str(path)]) == 2
        err = capsys.readouterr().err.strip()
        assert err.startswith("punie: ") and "\n" not in err
