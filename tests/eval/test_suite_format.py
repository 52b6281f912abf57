"""Suite files are hostile input: every problem is one `SuiteError` line naming the file and the key."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from punie_acp.cli import main
from punie_acp.evaluation.predicates import ArgCheck
from punie_acp.evaluation.suite import MAX_CASES, MAX_SUITE_BYTES, SuiteError, builtin_names, find_suite, load_suite

CASE = '[[case]]\nid = "a"\nprompt = "Find it"\nexpect = "tool"\n'


def _suite(tmp_path: Path, text: str, name: str = "suite.toml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def _refused(path: Path) -> str:
    with pytest.raises(SuiteError) as caught:
        load_suite(path)
    message = str(caught.value)
    assert "\n" not in message and str(path) in message
    return message


def test_a_minimal_suite_loads(tmp_path: Path) -> None:
    suite = load_suite(_suite(tmp_path, CASE))
    assert suite.name == "suite" and suite.cases[0].expect == "tool" and suite.fixture is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (CASE + '[[case.args]]\narg = "pattern"\nmatches = "(unclosed"\n', "not a valid regular expression"),
        (CASE + '[[case.args]]\narg = "pattern"\nmatches = "' + "a" * 3000 + '"\n', "longer than 2000"),
        (CASE + '[[case.args]]\narg = "p"\ncontains = "x"\nequals = "y"\n', "exactly one of"),
        (CASE + '[[case.args]]\narg = "p"\ncontains = 3\n', "'contains' takes text"),
        (CASE + '[[case.args]]\narg = "p"\none_of = "x"\n', "'one_of' takes a list"),
        (CASE + '[[case.args]]\narg = "p"\ncontains = "x"\nignore_case = "yes"\n', "ignore_case"),
        (CASE + '[[case.args]]\narg = "p"\ncontains = "x"\nrun = "rm -rf /"\n', "unknown key 'run'"),
        (CASE.replace('"tool"', '"maybe"'), "'expect' must be"),
        (CASE + "max_requests = 0\n", "max_requests"),
        (CASE + 'keywords = "one"\n', "'keywords' must be a list"),
        (CASE + 'tests_pass = "yes"\n', "true or false"),
        (CASE + CASE, "two cases have the id 'a'"),
        ("name = 'x'\n", "no cases"),
        (CASE + 'shell = "echo hi"\n', "unknown key 'shell'"),
        (CASE.replace('prompt = "Find it"', 'prompt = ""'), "'prompt' must be non-empty"),
        ("[[case]\n", "not valid TOML"),
        (CASE.replace('id = "a"', 'id = "a\\u001b[2J"'), "control character"),
        ('name = "x\\u009b31m"\n' + CASE, "control character"),
        ("x = " + "[" * 5000 + "]" * 5000 + "\n" + CASE, "TOML"),
    ],
)
def test_bad_suites_are_refused_in_one_line(tmp_path: Path, text: str, expected: str) -> None:
    assert expected in _refused(_suite(tmp_path, text))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('fixture = "../outside"\n' + CASE, "must stay inside"),
        ('fixture = "/etc"\n' + CASE, "must stay inside"),
        ('fixture = "missing"\n' + CASE, "not a directory"),
        ('[files]\n"../escape.py" = "x"\n' + CASE, "must stay inside"),
        ('[files]\n"/tmp/abs.py" = "x"\n' + CASE, "must stay inside"),
        ('[files]\n"a\\\\b.py" = "x"\n' + CASE, "relative path"),
        ('[files]\n"ok.py" = 3\n' + CASE, "must be text"),
        (CASE + '[case.files]\n"x/../../y.py" = "x"\n', "must stay inside"),
        (CASE + '[[case.after]]\nfile = "../../etc/passwd"\ncontains = "root"\n', "must stay inside"),
        (CASE + '[[case.after]]\nfile = "a.py"\nexists = true\ncontains = "x"\n', "stands alone"),
    ],
)
def test_paths_that_leave_the_suite_or_the_copy_are_refused(tmp_path: Path, text: str, expected: str) -> None:
    assert expected in _refused(_suite(tmp_path, text))


def test_a_fixture_symlinked_out_of_the_suite_directory_is_refused(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    suites = tmp_path / "suites"
    suites.mkdir()
    (suites / "project").symlink_to(outside)
    assert "leads out of the suite's directory" in _refused(_suite(suites, 'fixture = "project"\n' + CASE))


def test_huge_files_fifos_and_other_bytes_are_refused(tmp_path: Path) -> None:
    assert "larger than" in _refused(_suite(tmp_path, CASE + "# " + "x" * MAX_SUITE_BYTES + "\n"))
    many = "".join(f'[[case]]\nid = "c{n}"\nprompt = "p"\nexpect = "direct"\n' for n in range(MAX_CASES + 1))
    assert "more than" in _refused(_suite(tmp_path, many, "many.toml"))
    binary = tmp_path / "binary.toml"
    binary.write_bytes(b"name = '\xff\xfe'\n")
    assert "not UTF-8" in _refused(binary)
    fifo = tmp_path / "fifo.toml"
    os.mkfifo(fifo)
    assert "not a regular file" in _refused(fifo)  # refused before opening: opening would wait for a writer
    assert "cannot be read" in _refused(tmp_path / "missing.toml")


def test_the_command_says_what_is_wrong_in_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _suite(tmp_path, CASE + '[[case.args]]\narg = "pattern"\nmatches = "(["\n')
    assert main(["eval", "run", str(path), "--model", "test", "--json", str(tmp_path / "r.json")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("punie: ") and "not a valid regular expression" in err and "\n" not in err
    assert not (tmp_path / "r.json").exists()
    assert main(["eval", "run", "no-such-suite", "--model", "test"]) == 2
    assert "discrimination, multistep" in capsys.readouterr().err


@pytest.mark.parametrize("name", builtin_names())
def test_every_builtin_reference_solves_its_own_case(name: str) -> None:
    """The suites check themselves: a reference that its own case would fail is a suite bug."""
    for case in find_suite(name).cases:
        if case.expect == "direct":
            assert not case.reference
            continue
        assert case.reference, case.id
        calls = [(ref.tool, dict(ref.args)) for ref in case.reference]
        assert not case.tools or calls[0][0] in case.tools, case.id
        names = {tool for tool, _ in calls}
        applying: list[ArgCheck] = [c for c in case.args if c.tool is None or c.tool in names]
        assert all(check.satisfied_by(calls) for check in applying), case.id
        assert all(k.casefold() in (case.reference_answer or "").casefold() for k in case.keywords), case.id
