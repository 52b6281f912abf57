"""The HTML report is one self-contained file, and nothing a suite or a model wrote can run in it."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.eval.conftest import run_eval

HOSTILE = '<script>alert("x")</script><img src=x onerror=alert(1)>'


def _hostile_run(tmp_path: Path) -> tuple[dict[str, Any], str]:
    suite = tmp_path / "hostile.toml"
    suite.write_text(
        f"name = {json.dumps('suite ' + HOSTILE)}\n"
        f"[[case]]\nid = {json.dumps('id ' + HOSTILE)}\nprompt = {json.dumps('Prompt ' + HOSTILE)}\n"
        'expect = "tool"\n'
        f"[files]\n{json.dumps('page.html')} = {json.dumps(HOSTILE)}\n"
    )
    responses = [
        [{"think": "thinking " + HOSTILE}, {"call": "read_file", "args": {"path": "page.html", "x": HOSTILE}}],
        [{"say": "answer " + HOSTILE}],
    ]
    model = tmp_path / "model.json"
    model.write_text(json.dumps({"responses": responses}))
    _, report, html = run_eval(tmp_path, f"script:{model}", str(suite))
    return report, html.read_text()


def test_a_hostile_transcript_is_inert_text(tmp_path: Path) -> None:
    report, page = _hostile_run(tmp_path)
    case = report["suites"][0]["cases"][0]
    # The hostile text reached the report from every side: suite, prompt, thinking, arguments, tool output, answer.
    kinds = {e["kind"] for e in case["transcript"]}
    assert {"thought", "tool", "result", "text"} <= kinds
    carried = [e for e in case["transcript"] if "<script>alert(" in json.dumps(e, ensure_ascii=False)]
    assert len(carried) == 4  # thinking, arguments, tool output (the refusal quotes them), answer
    assert (
        "<script" not in page.lower()
        and "<img" not in page.lower()
        and "onerror=alert" not in page.replace("onerror=alert(1)&gt;", "")
    )
    assert page.count("&lt;script&gt;") >= 6  # suite name, case id, prompt, thought, arguments, output, answer
    # Nothing remote and no script at all: inline CSS and SVG, and a policy that forbids the rest.
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:|//)""", page)
    assert "default-src 'none'" in page


def test_the_report_holds_a_table_per_suite_charts_and_transcripts(tmp_path: Path) -> None:
    report, page = _hostile_run(tmp_path)
    assert page.count("<svg") == 2  # accuracy and latency
    assert page.count("<details") == len(report["suites"][0]["cases"])
    assert "Suite suite &lt;script&gt;" in page


@pytest.mark.skipif(shutil.which("chromium") is None, reason="needs headless Chromium")
def test_chromium_renders_it_without_running_anything(tmp_path: Path) -> None:
    _, _ = _hostile_run(tmp_path)
    page = tmp_path / "report.html"
    argv = ["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--dump-dom", page.as_uri()]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0
    # The DOM after loading: the hostile markup is text, no element was made from it.
    assert "<script" not in done.stdout.lower() and "<img" not in done.stdout.lower()
    assert "&lt;script&gt;alert" in done.stdout
