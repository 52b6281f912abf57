"""ruff, ty and pytest tools on a small project with known problems: structured, located results."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from punie_acp.config import Settings
from punie_acp.tools import toolchain
from tests.support.terminals import RecordingHost
from tests.tools.command_harness import run_tool

pytestmark = pytest.mark.anyio

CALC = """\
import os


def add(a: int, b: int) -> int:
    return a + b


def name() -> str:
    return 42
"""

UGLY = """\
x = {  'a':1 }
y=[1,2]
"""

TESTS = """\
import pytest


def helper(x):
    assert x == 2


def test_pass():
    assert True


def test_fail():
    assert 1 + 1 == 3


def test_fail_in_helper():
    helper(3)


@pytest.fixture
def broken():
    raise RuntimeError("setup broke")


def test_setup_error(broken):
    pass


@pytest.mark.skip(reason="not today")
def test_skipped():
    pass


@pytest.mark.xfail
def test_xfail():
    assert False
"""


@pytest.fixture
def pyproject(tmp_path: Path) -> Path:
    root = tmp_path / "proj"
    (root / "pkg").mkdir(parents=True)
    (root / "pkg" / "__init__.py").write_text("")
    (root / "pkg" / "calc.py").write_text(CALC)
    (root / "ugly.py").write_text(UGLY)
    (root / "pyproject.toml").write_text('[project]\nname = "proj"\nversion = "0"\nrequires-python = ">=3.11"\n')
    return root.resolve()


async def test_ruff_check_lists_problems_at_file_line(pyproject: Path) -> None:
    host = RecordingHost("reject_once")
    run = await run_tool(pyproject, "ruff_check", {"path": "pkg"}, host=host, mode="read-only")
    assert run.ok, run.text
    lines = run.text.splitlines()
    assert lines[0].startswith("ruff check pkg (")
    assert "1 problem in 1 file (1 with a safe fix" in lines[0]
    assert lines[1].startswith("pkg/calc.py:1:8: F401 `os` imported but unused [fix: Remove unused import")
    assert (pyproject / "pkg" / "calc.py", 1) in run.locations()
    assert host.permission_requests == []  # read-only: no permission, even in read-only mode
    assert (pyproject / "pkg" / "calc.py").read_text() == CALC  # nothing fixed
    assert not (pyproject / ".ruff_cache").exists()


async def test_ruff_check_clean_and_refused_paths(pyproject: Path) -> None:
    run = await run_tool(pyproject, "ruff_check", {"path": "pkg/__init__.py"})
    assert run.ok and run.text.endswith("no problems found")
    run = await run_tool(pyproject, "ruff_check", {"path": "../"})
    assert not run.ok and "outside the project root" in run.text


async def test_ruff_format_diff_shows_changes_without_writing(pyproject: Path) -> None:
    run = await run_tool(pyproject, "ruff_format_diff", {"path": "ugly.py"})
    assert run.ok, run.text
    assert "1 file would be reformatted: ugly.py (1 hunk)" in run.text.splitlines()[0]
    assert "-x = {  'a':1 }" in run.text and '+x = {"a": 1}' in run.text
    assert (pyproject / "ugly.py", 1) in run.locations()
    assert (pyproject / "ugly.py").read_text() == UGLY
    run = await run_tool(pyproject, "ruff_format_diff", {"path": "pkg/calc.py"})
    assert run.ok and "already formatted" in run.text


def _project_tool(root: Path, name: str, content: bytes) -> Path:
    venv = root / ".venv"
    (venv / "bin").mkdir(parents=True, exist_ok=True)
    (venv / "pyvenv.cfg").write_text("home = /usr/bin\n")
    tool = venv / "bin" / name
    tool.write_bytes(content)
    tool.chmod(0o755)
    return tool


async def test_punies_pinned_ruff_runs_not_the_projects(pyproject: Path) -> None:
    _project_tool(pyproject, "ruff", f'#!/bin/sh\ntouch "{pyproject}/used-project-ruff"\n'.encode())
    for allowed in (False, True):  # a script is refused even when the user allows project tools
        run = await run_tool(pyproject, "ruff_check", {"path": "pkg"}, settings=Settings(project_tools=allowed))
        assert run.ok, run.text
        assert "(punie's ruff)" in run.text.splitlines()[0]
    assert not (pyproject / "used-project-ruff").exists()


async def test_project_tools_setting_runs_the_projects_native_ruff(
    pyproject: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ruff import find_ruff_bin

    allowed = Settings(project_tools=True)
    tool = _project_tool(pyproject, "ruff", Path(find_ruff_bin()).read_bytes())
    # Written after punie started (as an edit would be): not run, even though it is native.
    run = await run_tool(pyproject, "ruff_check", {"path": "pkg"}, settings=allowed)
    assert run.ok and "(punie's ruff)" in run.text.splitlines()[0], run.text
    # As if it had been there before punie started (a project's own installed ruff).
    monkeypatch.setattr(toolchain, "STARTED_NS", tool.stat().st_ctime_ns + 1)
    run = await run_tool(pyproject, "ruff_check", {"path": "pkg"}, settings=allowed)
    assert run.ok, run.text
    assert "(project .venv)" in run.text.splitlines()[0]
    run = await run_tool(pyproject, "ruff_check", {"path": "pkg"})
    assert "(punie's ruff)" in run.text.splitlines()[0]


async def test_ruff_keeps_the_projects_safe_settings(pyproject: Path) -> None:
    (pyproject / "pyproject.toml").write_text(
        '[tool.ruff]\nline-length = 20\nextend = "/nonexistent"\n[tool.ruff.lint]\nselect = ["E501"]\n'
        '[tool.ruff.format]\nquote-style = "single"\n'
    )
    run = await run_tool(pyproject, "ruff_check", {"path": "pkg/calc.py"})
    assert run.ok, run.text
    assert "E501" in run.text and "F401" not in run.text  # select and line-length kept, extend dropped
    run = await run_tool(pyproject, "ruff_format_diff", {"path": "ugly.py"})
    assert "+x = {'a': 1}" in run.text


async def test_ty_check_keeps_rule_severities_and_reads_the_roots_venv(pyproject: Path) -> None:
    (pyproject / "ty.toml").write_text('[rules]\ninvalid-return-type = "ignore"\n')
    site = pyproject / ".venv" / "lib" / f"python{sys.version_info.major}.{sys.version_info.minor}" / "site-packages"
    site.mkdir(parents=True)
    (pyproject / ".venv" / "pyvenv.cfg").write_text("home = /usr/bin\n")
    (site / "thirdparty.py").write_text("VALUE = 'from the venv'\n")
    (pyproject / "use.py").write_text("import thirdparty\n\nreveal_type(thirdparty.VALUE)\n")
    run = await run_tool(pyproject, "ty_check", {"path": "."})
    assert run.ok, run.text
    assert 'Literal["from the venv"]' in run.text
    assert "calc.py:9" not in run.text  # the project's severity applied
    assert ".venv" not in run.text  # the venv itself is not checked


async def test_ty_check_reports_type_errors_at_file_line(pyproject: Path) -> None:
    host = RecordingHost("reject_once")
    run = await run_tool(pyproject, "ty_check", {"path": "pkg"}, host=host)
    assert run.ok, run.text
    lines = run.text.splitlines()
    assert lines[0].startswith("ty check pkg (") and "1 error" in lines[0]
    assert lines[1].startswith("pkg/calc.py:9:12: invalid-")  # ty names it invalid-explicit-return or -return-type
    assert "str" in lines[1] and "42" in lines[1]
    assert (pyproject / "pkg" / "calc.py", 9) in run.locations()
    assert host.permission_requests == []


async def test_ty_check_clean(pyproject: Path) -> None:
    (pyproject / "ok.py").write_text("def f(x: int) -> int:\n    return x\n")
    run = await run_tool(pyproject, "ty_check", {"path": "ok.py"})
    assert run.ok and run.text.endswith("no diagnostics")


@pytest.fixture
def testproject(pyproject: Path) -> Path:
    (pyproject / "tests").mkdir()
    (pyproject / "tests" / "test_things.py").write_text(TESTS)
    (pyproject / "tests" / "test_broken_import.py").write_text("import does_not_exist_anywhere\n")
    return pyproject


async def test_pytest_counts_failures_at_file_line(testproject: Path) -> None:
    host = RecordingHost("allow_once")
    run = await run_tool(testproject, "run_pytest", {"path": "tests"}, host=host)
    assert run.ok, run.text  # failing tests are a result, not a broken tool
    head = run.text.splitlines()[0]
    assert head.startswith("pytest tests (")
    for part in ("2 failed", "2 errors", "1 passed", "1 skipped", "1 xfailed"):
        assert part in head, head
    text = run.text
    assert "FAILED tests/test_things.py::test_fail at tests/test_things.py:13" in text
    assert "assert (1 + 1) == 3" in text
    # The failure inside a helper points at the helper's line, where the assert is.
    assert "FAILED tests/test_things.py::test_fail_in_helper at tests/test_things.py:5" in text
    assert "ERROR (setup) tests/test_things.py::test_setup_error at tests/test_things.py:22" in text
    assert "RuntimeError: setup broke" in text
    assert "ERROR (collect) tests/test_broken_import.py at tests/test_broken_import.py:1" in text
    assert "slowest: " in text
    located = run.locations()
    things = testproject / "tests" / "test_things.py"
    assert {(things, 13), (things, 5), (things, 22), (testproject / "tests" / "test_broken_import.py", 1)} <= set(
        located
    )
    [request] = host.permission_requests
    assert request.kind == "execute" and "pytest" in request.title


async def test_pytest_node_id_and_keyword(testproject: Path) -> None:
    run = await run_tool(testproject, "run_pytest", {"path": "tests/test_things.py::test_pass"})
    assert run.ok and run.text.splitlines()[0].split(": ", 1)[1].startswith("1 passed in ")
    run = await run_tool(testproject, "run_pytest", {"path": "tests/test_things.py", "keyword": "skipped or xfail"})
    assert "1 skipped, 1 xfailed" in run.text.splitlines()[0]


async def test_pytest_rejected_or_read_only_never_runs(testproject: Path) -> None:
    (testproject / "tests" / "test_marker.py").write_text(
        "from pathlib import Path\n\ndef test_touch():\n    Path('ran-tests').touch()\n"
    )
    run = await run_tool(testproject, "run_pytest", {}, host=RecordingHost("reject_once"))
    assert not run.ok and "not done" in run.text
    run = await run_tool(testproject, "run_pytest", {}, mode="read-only")
    assert not run.ok and "Read-only mode" in run.text
    assert not (testproject / "ran-tests").exists()


async def test_pytest_timeout_kills_the_run(testproject: Path) -> None:
    (testproject / "tests" / "test_slow.py").write_text(
        "import os, time\n\ndef test_slow():\n    open('pid', 'w').write(str(os.getpid()))\n    time.sleep(1000)\n"
    )
    run = await run_tool(testproject, "run_pytest", {"path": "tests/test_slow.py", "timeout": 2})
    assert not run.ok
    assert "timed out after 2 s" in run.text
    pid = int((testproject / "pid").read_text())
    from tests.support.terminals import alive

    assert not alive(pid)


async def test_pytest_runs_with_the_projects_python(testproject: Path) -> None:
    """A project virtualenv's python runs pytest (so the project's packages import)."""
    venv = testproject / ".venv"
    (venv / "bin").mkdir(parents=True)
    (venv / "pyvenv.cfg").write_text("home = /usr/bin\n")
    python = venv / "bin" / "python"
    python.write_text(f'#!/bin/sh\ntouch "{testproject}/used-project-python"\nexec "{sys.executable}" "$@"\n')
    python.chmod(0o755)
    (venv / "bin" / "pytest").write_text("")
    run = await run_tool(testproject, "run_pytest", {"path": "tests/test_things.py::test_pass"})
    assert run.ok, run.text
    assert "(project .venv)" in run.text.splitlines()[0]
    assert (testproject / "used-project-python").exists()
    assert os.environ.get("PUNIE_PYTEST_REPORT") is None


async def test_checkers_take_odd_file_names(pyproject: Path) -> None:
    """Names with a newline, a leading dash, spaces or bytes that are not UTF-8 reach the checkers intact."""
    names = ["-dash.py", "with space.py", "new\nline.py", os.fsdecode(b"bad\xff.py")]
    for name in names:
        (pyproject / "odd").mkdir(exist_ok=True)
        (pyproject / "odd" / name).write_text("import os\n")
    for tool in ("ruff_check", "ty_check", "ruff_format_diff"):
        run = await run_tool(pyproject, tool, {"path": "odd"})
        assert run.ok, run.text
    run = await run_tool(pyproject, "ruff_check", {"path": "odd"})
    assert "4 problems in 4 files" in run.text.splitlines()[0], run.text


async def test_ty_check_skips_a_venv_whose_packages_link_outside(pyproject: Path, tmp_path: Path) -> None:
    """uv's symlink link mode: site-packages entries point into a cache outside; ty runs without them."""
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / "thirdparty.py").write_text("VALUE = 'from the cache'\n")
    site = pyproject / ".venv" / "lib" / f"python{sys.version_info.major}.{sys.version_info.minor}" / "site-packages"
    site.mkdir(parents=True)
    (pyproject / ".venv" / "pyvenv.cfg").write_text("home = /usr/bin\n")
    (site / "thirdparty.py").symlink_to(cache / "thirdparty.py")
    (pyproject / "use.py").write_text("import thirdparty\n\nreveal_type(thirdparty.VALUE)\n")
    run = await run_tool(pyproject, "ty_check", {"path": "use.py"})
    assert run.ok, run.text
    assert "; .venv was not searched: its site-packages links outside the root" in run.text.splitlines()[0]
    assert "from the cache" not in run.text and "import-not-found" in run.text


async def test_ty_check_refuses_while_an_import_could_leave_the_root(pyproject: Path, tmp_path: Path) -> None:
    (tmp_path / "elsewhere.py").write_text("VALUE = 1\n")
    (pyproject / "pkg" / "linked.py").symlink_to(tmp_path / "elsewhere.py")
    run = await run_tool(pyproject, "ty_check", {"path": "pkg/calc.py"})
    assert not run.ok
    assert run.text == (
        "ty check refused: pkg/linked.py is a link leading outside the project root, which ty would follow "
        "when resolving imports; remove the link (ruff_check still works)"
    )
    run = await run_tool(pyproject, "ruff_check", {"path": "pkg"})
    assert run.ok and "linked.py" not in run.text
