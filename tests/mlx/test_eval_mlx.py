"""`punie eval` on an in-process mlx model: a fabricated Qwen3 that reads hello.py, then answers."""

from __future__ import annotations

from pathlib import Path

from tests.eval.conftest import run_eval

SUITE = """name = "mlx-smoke"
[files]
"hello.py" = "print('hello')\\nanswer = 42\\n"

[[case]]
id = "read-hello"
prompt = "What does hello.py do?"
expect = "tool"
tools = ["read_file"]
keywords = ["hello.py", "prints"]
[[case.args]]
arg = "path"
equals = "hello.py"
"""


def test_a_case_runs_through_the_mlx_backend(model_dirs: dict[str, Path], tmp_path: Path) -> None:
    suite = tmp_path / "mlx.toml"
    suite.write_text(SUITE)
    status, report, html = run_eval(tmp_path, str(model_dirs["acp"]), str(suite), "--seed", "3", "--threshold", "1")
    case = report["suites"][0]["cases"][0]
    assert status == 0, case
    assert case["metrics"]["first_tool"] == "read_file" and case["metrics"]["requests"] == 2
    assert case["metrics"]["ttft_s"] is not None and case["metrics"]["ttft_s"] <= case["metrics"]["total_s"]
    assert case["metrics"]["output_tokens"] > 0
    result = next(e for e in case["transcript"] if e["kind"] == "result")
    assert result["ok"] and "answer = 42" in result["output"]  # the tool really read the case's copy
    # The model is named by a hash of its files, and the seed is on record.
    assert report["model"]["kind"] == "mlx" and len(report["model"]["identity"]) == 64
    assert report["settings"]["seed"] == 3
    assert "read-hello" in html.read_text()
