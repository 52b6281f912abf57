"""Each case runs on its own fresh copy of the fixture; the user's tree and the suite's files stay untouched."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from punie_acp.cli import main
from punie_acp.evaluation.fixture import FixtureError, scan
from tests.eval.conftest import run_eval


def _script(directory: Path, by_prompt: dict[str, Any]) -> str:
    path = directory / "model.json"
    path.write_text(json.dumps({"responses": [[{"say": "nothing to do"}]], "by_prompt": by_prompt}))
    return f"script:{path}"


def _project(tmp_path: Path) -> Path:
    suite_dir = tmp_path / "suite"
    (suite_dir / "project").mkdir(parents=True)
    (suite_dir / "project" / "app.py").write_text("VALUE = 1\n")
    return suite_dir


SUITE = """name = "mine"
fixture = "project"

[[case]]
id = "edit"
prompt = "Set VALUE to 2"
expect = "tool"
uses = ["edit_file"]
[[case.after]]
file = "app.py"
contains = "VALUE = 2"
[[case.after]]
file = "new.txt"
exists = true

[[case]]
id = "fresh"
prompt = "Is the copy fresh?"
expect = "direct"
[[case.after]]
file = "app.py"
contains = "VALUE = 1"
[[case.after]]
file = "new.txt"
exists = false
"""


def test_edits_land_in_the_copy_never_in_the_fixture_and_every_case_gets_a_fresh_copy(tmp_path: Path) -> None:
    suite_dir = _project(tmp_path)
    (suite_dir / "mine.toml").write_text(SUITE)
    edit = [
        [{"call": "edit_file", "args": {"path": "app.py", "old_text": "VALUE = 1", "new_text": "VALUE = 2"}}],
        [{"call": "write_file", "args": {"path": "new.txt", "content": "made by the agent"}}],
        [{"say": "done"}],
    ]
    spec = _script(tmp_path, {"Set VALUE to 2": edit, "Is the copy fresh?": [[{"say": "yes"}]]})
    status, report, _ = run_eval(tmp_path, spec, str(suite_dir / "mine.toml"), "--threshold", "1")
    assert status == 0, report["suites"][0]["cases"]
    assert [c["passed"] for c in report["suites"][0]["cases"]] == [True, True]
    assert (suite_dir / "project" / "app.py").read_text() == "VALUE = 1\n"
    assert sorted(p.name for p in (suite_dir / "project").iterdir()) == ["app.py"]


def test_an_after_check_does_not_follow_a_symlink_the_agent_made(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("the secret outside the copy\n")
    suite = tmp_path / "s.toml"
    suite.write_text(
        '[[case]]\nid = "link"\nprompt = "Link it"\nexpect = "tool"\n'
        '[[case.after]]\nfile = "leak.txt"\ncontains = "secret"\n'
    )
    link = [[{"call": "run_command", "args": {"command": f"ln -s {secret} leak.txt && pwd"}}], [{"say": "linked"}]]
    status, report, _ = run_eval(tmp_path, _script(tmp_path, {"Link it": link}), str(suite), "--threshold", "1")
    assert status == 1
    case = report["suites"][0]["cases"][0]
    assert [e["ok"] for e in case["transcript"] if e["kind"] == "result"] == [True]  # the link was made
    assert case["checks"]["after"] is False and case["after"][0]["ok"] is False
    # The copy the case ran in (its command printed it) is gone.
    output = next(e["output"] for e in case["transcript"] if e["kind"] == "result")
    copy = next(Path(line.strip()) for line in output.splitlines() if "punie-eval-" in line)
    assert copy.name.startswith("punie-eval-") and not copy.exists()


def test_a_fixture_with_a_symlink_or_special_file_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    suite_dir = _project(tmp_path)
    (suite_dir / "project" / "passwd").symlink_to("/etc/passwd")
    with pytest.raises(FixtureError, match="symlink or special file"):
        scan(suite_dir / "project", {})
    (suite_dir / "mine.toml").write_text(SUITE)
    argv = ["eval", "run", str(suite_dir / "mine.toml"), "--model", "test", "--json", str(tmp_path / "r.json")]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("punie: fixture") and "passwd" in err and "\n" not in err
    (suite_dir / "project" / "passwd").unlink()
    os.mkfifo(suite_dir / "project" / "pipe")
    with pytest.raises(FixtureError, match="'pipe'"):
        scan(suite_dir / "project", {})


def test_copies_overlay_the_case_files_over_the_suite_files(tmp_path: Path) -> None:
    suite_dir = _project(tmp_path)
    fixture = scan(suite_dir / "project", {"docs/a.md": "suite text", "app.py": "VALUE = 3\n"})
    copy = fixture.copy({"docs/a.md": "case text"})
    assert (copy / "app.py").read_text() == "VALUE = 3\n"  # the suite's inline files over the directory
    assert (copy / "docs" / "a.md").read_text() == "case text"  # the case's over the suite's
    other = fixture.copy({})
    assert other != copy and (other / "docs" / "a.md").read_text() == "suite text"


def test_a_case_past_its_time_is_cancelled_and_reported(tmp_path: Path) -> None:
    suite = tmp_path / "s.toml"
    suite.write_text('[[case]]\nid = "slow"\nprompt = "Wait"\nexpect = "tool"\n')
    wait = [[{"call": "run_command", "args": {"command": "sleep 60"}}], [{"say": "waited"}]]
    status, report, _ = run_eval(tmp_path, _script(tmp_path, {"Wait": wait}), str(suite), "--case-timeout", "1")
    assert status == 0  # no threshold: the run itself went fine
    case = report["suites"][0]["cases"][0]
    assert case["metrics"]["stop_reason"] == "timeout" and case["error"] == "timed out after 1 s"
    assert case["passed"] is False


def test_a_fixture_whose_settings_table_is_bad_fails_its_cases_not_the_run(tmp_path: Path) -> None:
    suite = tmp_path / "s.toml"
    suite.write_text(
        '[files]\n"pyproject.toml" = "[tool.punie]\\nmodel = \\"http://evil\\"\\n"\n'
        '[[case]]\nid = "one"\nprompt = "Hello"\nexpect = "direct"\n'
        '[[case]]\nid = "two"\nprompt = "Hi"\nexpect = "direct"\n'
    )
    status, report, _ = run_eval(tmp_path, _script(tmp_path, {}), str(suite))
    assert status == 0
    for case in report["suites"][0]["cases"]:
        assert case["metrics"]["stop_reason"] == "error" and not case["passed"]
        assert "pyproject.toml" in case["error"] and "model" in case["error"] and "\n" not in case["error"]


def test_files_that_cannot_both_exist_stop_the_run_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    suite = tmp_path / "s.toml"
    suite.write_text('[files]\n"a" = "x"\n"a/b.py" = "y"\n[[case]]\nid = "one"\nprompt = "Hello"\nexpect = "direct"\n')
    assert main(["eval", "run", str(suite), "--model", "test", "--json", str(tmp_path / "r.json")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("punie: cannot make the case's copy of the fixture") and "\n" not in err
