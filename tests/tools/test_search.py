"""read_file ranges, list_files and grep over the index: .gitignore (nested), binaries, big files."""

from __future__ import annotations

import tracemalloc
from pathlib import Path

import pytest

from punie_acp.core.events import PlanUpdated
from punie_acp.workspace.listing import IgnoreRules
from tests.tools.turns import call, new_session, run_calls

pytestmark = pytest.mark.anyio


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    files = {
        ".gitignore": "*.log\nbuild/\n/secret.env\n",
        "main.py": "import os\n\ndef main():\n    return os.getcwd()\n",
        "app.log": "main log line\n",
        "build/out.py": "def main(): pass\n",
        "secret.env": "TOKEN=main\n",
        "pkg/__init__.py": "",
        "pkg/core.py": "class Main:\n    pass\n",
        "pkg/.gitignore": "generated_*\n!generated_keep.py\n",
        "pkg/generated_x.py": "def main(): ...\n",
        "pkg/generated_keep.py": "MAIN = 1\n",
        "pkg/deeper/secret.env": "not ignored here: the root rule is anchored\n",
        "docs/guide.md": "Run main.py\n",
    }
    for rel, text in files.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text)
    (tmp_path / "image.png").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00main\x00")
    (tmp_path / "__pycache__").mkdir()
    (tmp_path / "__pycache__" / "main.cpython-311.pyc").write_bytes(b"main")
    return tmp_path


EXPECTED = [
    ".gitignore",
    "docs/guide.md",
    "image.png",
    "main.py",
    "pkg/.gitignore",
    "pkg/__init__.py",
    "pkg/core.py",
    "pkg/deeper/secret.env",
    "pkg/generated_keep.py",
]


async def test_list_files_respects_nested_gitignore_files(repo: Path) -> None:
    session, _ = new_session(repo)
    listed = await call(session, "list_files")
    assert listed.raw_output.splitlines() == EXPECTED
    sub = await call(session, "list_files", path="pkg", pattern="*.py")
    assert sub.raw_output.splitlines() == ["pkg/__init__.py", "pkg/core.py", "pkg/generated_keep.py"]
    ignored = await call(session, "list_files", path="build")
    assert ignored.ok and "excluded by .gitignore" in ignored.raw_output
    not_dir = await call(session, "list_files", path="main.py")
    assert not not_dir.ok and "not a directory" in not_dir.raw_output
    await session.workspace.aclose()


def test_ignore_rules_follow_git() -> None:
    rules = IgnoreRules(Path("/nonexistent"))
    rules._specs = {}  # no files on disk: feed the rules directly
    from pathspec import GitIgnoreSpec

    rules._specs[""] = GitIgnoreSpec.from_lines(["*.tmp", "out/", "!keep.tmp"])
    rules._specs["a"] = GitIgnoreSpec.from_lines(["!*.tmp", "local"])
    assert rules.ignored("x.tmp", False)
    assert not rules.ignored("keep.tmp", False)
    assert not rules.ignored("a/x.tmp", False)  # the deeper file re-includes
    assert rules.ignored("a/local", False) and rules.ignored("a/b/local", True)
    assert rules.ignored("out/x.py", False)  # under an ignored directory
    assert rules.ignored("src/__pycache__/m.pyc", False)
    assert not rules.ignored("src/m.py", False)


async def test_grep_reports_file_line_matches_and_locations(repo: Path) -> None:
    session, _ = new_session(repo)
    record = await run_calls(session, [("grep", {"pattern": r"def main|class Main"})])
    result = record.result()
    assert result.ok
    assert result.raw_output.splitlines() == [
        "main.py:3: def main():",
        "pkg/core.py:1: class Main:",
        "[1 binary file(s) skipped]",
    ]
    locations = [(loc.path, loc.line) for p in record.progress() for loc in p.locations]
    root = repo.resolve()
    assert locations == [(root / "main.py", 3), (root / "pkg" / "core.py", 1)]
    await session.workspace.aclose()


async def test_grep_filters_and_reports_skips(repo: Path) -> None:
    session, _ = new_session(repo)
    text = (await call(session, "grep", pattern="(?i)main", glob="*.md")).raw_output
    assert text == "docs/guide.md:1: Run main.py"
    in_dir = (await call(session, "grep", pattern="MAIN", path="pkg")).raw_output
    assert in_dir == "pkg/generated_keep.py:1: MAIN = 1"
    one_file = (await call(session, "grep", pattern="return", path="main.py")).raw_output
    assert one_file == "main.py:4:     return os.getcwd()"
    binary = (await call(session, "grep", pattern="main", glob="*.png")).raw_output
    assert binary == "(no matches in 0 file(s))\n[1 binary file(s) skipped]"
    none = await call(session, "grep", pattern="zzz-nothing")
    assert none.ok and none.raw_output.startswith("(no matches in ")
    bad = await call(session, "grep", pattern="(unclosed")
    assert not bad.ok and "invalid regular expression" in bad.raw_output
    missing = await call(session, "grep", pattern="x", path="nope")
    assert not missing.ok and "does not exist" in missing.raw_output
    await session.workspace.aclose()


async def test_grep_caps_matches(tmp_path: Path) -> None:
    (tmp_path / "many.txt").write_text("hit\n" * 500)
    session, _ = new_session(tmp_path)
    record = await run_calls(session, [("grep", {"pattern": "hit"})])
    lines = record.result().raw_output.splitlines()
    assert len(lines) == 201 and lines[-1].startswith("[stopped at 200 matches")
    assert len([loc for p in record.progress() for loc in p.locations]) == 50
    await session.workspace.aclose()


async def test_read_file_ranges(tmp_path: Path) -> None:
    (tmp_path / "n.txt").write_text("".join(f"line {i}\n" for i in range(1, 11)))
    session, _ = new_session(tmp_path)
    first = await call(session, "read_file", path="n.txt", limit=3)
    assert first.raw_output == "line 1\nline 2\nline 3\n\n[lines 1-3; more follow: read again with offset=4]"
    tail = await call(session, "read_file", path="n.txt", offset=9)
    assert tail.raw_output == "line 9\nline 10\n"
    past = await call(session, "read_file", path="n.txt", offset=50)
    assert past.raw_output == "[n.txt: no lines from line 50]"
    (tmp_path / "b.bin").write_bytes(b"ab\x00cd")
    binary = await call(session, "read_file", path="b.bin")
    assert not binary.ok and "binary" in binary.raw_output
    directory = await call(session, "read_file", path=".")
    assert not directory.ok and "is a directory" in directory.raw_output


async def test_huge_one_line_file_is_read_in_pieces_never_whole(tmp_path: Path) -> None:
    size = 32 * 1024 * 1024
    with (tmp_path / "min.js").open("wb") as handle:
        for _ in range(size // (1024 * 1024)):
            handle.write(b"x" * (1024 * 1024))
        handle.write(b"\nsecond line\n")
    session, _ = new_session(tmp_path)
    tracemalloc.start()
    try:
        first = await call(session, "read_file", path="min.js", limit=1)
        second = await call(session, "read_file", path="min.js", offset=2)
        found = await call(session, "grep", pattern="second", path="min.js")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert first.raw_output.startswith("x" * 2000 + "…[line cut]")
    assert second.raw_output == "second line\n"
    assert found.raw_output == "min.js:2: second line"
    assert peak < size // 4, f"peak {peak} bytes: the file was held whole"


async def test_update_plan_emits_a_plan(tmp_path: Path) -> None:
    session, _ = new_session(tmp_path)
    entries = [
        {"content": "Read the code", "status": "completed"},
        {"content": "Fix the bug", "status": "in_progress", "priority": "high"},
        {"content": "Run tests"},
    ]
    record = await run_calls(session, [("update_plan", {"entries": entries})])
    assert record.result().ok and record.result().raw_output == "Plan updated: 3 steps, 1 completed."
    [plan] = [e for e in record.events if isinstance(e, PlanUpdated)]
    assert [(e.content, e.status, e.priority) for e in plan.entries] == [
        ("Read the code", "completed", "medium"),
        ("Fix the bug", "in_progress", "high"),
        ("Run tests", "pending", "medium"),
    ]
    empty = await call(session, "update_plan", entries=[])
    assert not empty.ok and "at least one entry" in empty.raw_output


async def test_glob_semantics_are_kept_on_the_bounded_matcher(repo: Path) -> None:
    session, _ = new_session(repo)
    assert (await call(session, "list_files", pattern="pkg/*/*.env")).raw_output == "pkg/deeper/secret.env"
    not_m = (await call(session, "list_files", pattern="[!m]*.py")).raw_output
    assert not_m.splitlines() == ["pkg/__init__.py", "pkg/core.py", "pkg/generated_keep.py"]
    assert (await call(session, "list_files", pattern="**/*.md")).raw_output == "docs/guide.md"
    assert (await call(session, "grep", pattern="MAIN", glob="pkg/*")).raw_output == "pkg/generated_keep.py:1: MAIN = 1"
    await session.workspace.aclose()


async def test_a_catastrophic_pattern_fails_the_call_with_a_message(tmp_path: Path) -> None:
    (tmp_path / "evil.txt").write_text("a" * 40 + "!\n")
    session, _ = new_session(tmp_path)
    slow = await call(session, "grep", pattern="(a|a)+$")
    assert not slow.ok and "backtracks catastrophically" in slow.raw_output and "evil.txt:1" in slow.raw_output
    # Python `re` syntax, back-references and look-arounds included, still works.
    (tmp_path / "ok.txt").write_text("abab\nfoo(bar)\n")
    same = await call(session, "grep", pattern=r"(ab)\1|(?<=foo)\(bar\)", path="ok.txt")
    assert same.raw_output == "ok.txt:1: abab\nok.txt:2: foo(bar)"
    await session.workspace.aclose()


def test_a_cancelled_scan_stops_at_the_next_line(tmp_path: Path) -> None:
    import threading

    from punie_acp.tools.search import _scan
    from punie_acp.workspace.patterns import compile_search

    (tmp_path / "a.txt").write_text("hit\n" * 10)
    stop = threading.Event()
    target = [("a.txt", tmp_path.resolve() / "a.txt")]
    assert len(_scan(tmp_path.resolve(), target, compile_search("hit"), stop).lines) == 10
    stop.set()  # what grep does when its turn is cancelled and the thread abandoned
    assert _scan(tmp_path.resolve(), target, compile_search("hit"), stop).lines == []


def test_patterns_are_measured_before_regex_unrolls_them() -> None:
    from punie_acp.workspace.patterns import MAX_EXPANDED_SIZE, PatternError, compile_search, expanded_size

    assert expanded_size("a{100}b{100}") < 300
    assert expanded_size("(?:(?:a{1000}){1000})") > MAX_EXPANDED_SIZE
    assert expanded_size(r"\{1000\}[{]1000}") < 20  # escaped and bracketed braces are literals
    with pytest.raises(PatternError, match="counted repetitions"):
        compile_search("(?:(?:(?:a{100}){100}){100}){10}")
    assert compile_search(r"x{2,3}").search("xxx")


def test_a_gitignore_pattern_that_runs_out_of_time_is_dropped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from punie_acp.workspace import listing

    (tmp_path / ".gitignore").write_text("*.log\n(a|a)*\n")
    rules = IgnoreRules(tmp_path)
    # Give every match no time at all: the rules must fail open, not raise or hang.
    monkeypatch.setattr(listing, "LINE_SECONDS", 0.0)
    assert not rules.ignored("x.log", False)
    monkeypatch.setattr(listing, "LINE_SECONDS", 1.0)
    assert not rules.ignored("x.log", False)  # dropped for good once it ran out of time
    assert IgnoreRules(tmp_path).ignored("x.log", False)  # fresh rules (a new walk) try again
