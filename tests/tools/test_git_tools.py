"""git_status, git_diff and git_log on a temporary repository."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from punie_acp.tools.git import diff_summary
from tests.support.terminals import RecordingHost
from tests.tools.command_harness import run_tool

pytestmark = pytest.mark.anyio

GIT_ENV = {
    **{k: v for k, v in os.environ.items() if not k.startswith("GIT_")},
    "GIT_AUTHOR_NAME": "Ada",
    "GIT_AUTHOR_EMAIL": "ada@example.com",
    "GIT_COMMITTER_NAME": "Ada",
    "GIT_COMMITTER_EMAIL": "ada@example.com",
    "GIT_AUTHOR_DATE": "2024-05-01T12:00:00",
    "GIT_COMMITTER_DATE": "2024-05-01T12:00:00",
    "GIT_CONFIG_GLOBAL": "/dev/null",
}


def git(root: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=root, env=GIT_ENV, check=True, capture_output=True, text=True).stdout


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = (tmp_path / "repo").resolve()
    root.mkdir()
    git(root, "init", "-q", "-b", "main")
    (root / "a.py").write_text("one\ntwo\nthree\n")
    (root / "old_name.py").write_text("moving\n")
    (root / "src").mkdir()
    (root / "src" / "b.py").write_text("b = 1\n")
    git(root, "add", ".")
    git(root, "commit", "-q", "-m", "first commit")
    (root / "src" / "b.py").write_text("b = 2\n")
    git(root, "commit", "-q", "-am", "second: change b")
    return root


async def test_status_groups_changes(repo: Path) -> None:
    (repo / "a.py").write_text("one\nTWO\nthree\n")  # modified, not staged
    (repo / "src" / "b.py").write_text("b = 3\n")
    git(repo, "add", "src/b.py")  # staged
    git(repo, "mv", "old_name.py", "new_name.py")  # renamed, staged
    (repo / "notes.txt").write_text("new\n")  # untracked
    host = RecordingHost("reject_once")
    run = await run_tool(repo, "git_status", {}, host=host, mode="read-only")
    assert run.ok, run.text
    assert run.text.splitlines() == [
        "on branch main",
        "staged:",
        "  R old_name.py -> new_name.py",
        "  M src/b.py",
        "not staged:",
        "  M a.py",
        "untracked:",
        "  notes.txt",
    ]
    assert host.permission_requests == []


async def test_status_clean_and_subdirectory_project(repo: Path) -> None:
    run = await run_tool(repo, "git_status", {})
    assert run.text.splitlines() == ["on branch main", "nothing changed: the working tree is clean"]
    (repo / "a.py").write_text("changed\n")
    (repo / "src" / "b.py").write_text("changed\n")
    # A project that is a subdirectory of the repository sees only its own files, relative to it.
    run = await run_tool(repo / "src", "git_status", {})
    assert run.text.splitlines() == ["on branch main", "not staged:", "  M b.py"]


async def test_status_outside_a_repository(tmp_path: Path) -> None:
    plain = tmp_path / "plain"
    plain.mkdir()
    run = await run_tool(plain, "git_status", {})
    assert not run.ok and "not in a git repository" in run.text


async def test_diff_unstaged_and_staged(repo: Path) -> None:
    (repo / "a.py").write_text("one\nTWO\nthree\nfour\n")
    run = await run_tool(repo, "git_diff", {})
    assert run.ok, run.text
    lines = run.text.splitlines()
    assert lines[0] == "1 file with unstaged changes in .: +2 -1"
    assert lines[1] == "  a.py +2 -1"
    assert "-two" in lines and "+TWO" in lines and "+four" in lines
    assert (repo / "a.py", 1) in run.locations()
    run = await run_tool(repo, "git_diff", {"staged": True})
    assert run.text == "no staged changes in ."
    git(repo, "add", "a.py")
    run = await run_tool(repo, "git_diff", {"staged": True})
    assert run.text.splitlines()[0] == "1 file with staged changes in .: +2 -1"


async def test_diff_path_filter_and_confinement(repo: Path) -> None:
    (repo / "a.py").write_text("changed\n")
    (repo / "src" / "b.py").write_text("b = 9\n")
    run = await run_tool(repo, "git_diff", {"path": "src"})
    assert run.text.splitlines()[:2] == ["1 file with unstaged changes in src: +1 -1", "  src/b.py +1 -1"]
    assert "a.py" not in run.text.replace("src/b.py", "")
    run = await run_tool(repo / "src", "git_diff", {"path": "../a.py"})
    assert not run.ok and "outside the project root" in run.text
    run = await run_tool(repo, "git_diff", {"path": "/etc"})
    assert not run.ok and "outside the project root" in run.text


async def test_diff_ignores_external_diff_drivers(repo: Path) -> None:
    marker = repo.parent / "driver-ran"
    git(repo, "config", "diff.external", f"touch {marker}; true")
    (repo / "a.py").write_text("changed\n")
    run = await run_tool(repo, "git_diff", {})
    assert run.ok and "+changed" in run.text
    assert not marker.exists()


async def test_log_lists_recent_commits(repo: Path) -> None:
    run = await run_tool(repo, "git_log", {})
    assert run.ok
    assert [line.split(" ", 1)[1] for line in run.text.splitlines()] == [
        "2024-05-01 Ada: second: change b",
        "2024-05-01 Ada: first commit",
    ]
    run = await run_tool(repo, "git_log", {"limit": 1})
    assert len(run.text.splitlines()) == 1
    run = await run_tool(repo, "git_log", {"path": "a.py"})
    assert run.text.endswith("Ada: first commit") and len(run.text.splitlines()) == 1
    run = await run_tool(repo, "git_log", {"path": "../.."})
    assert not run.ok and "outside the project root" in run.text


async def test_log_without_commits(tmp_path: Path) -> None:
    git(tmp_path, "init", "-q")
    run = await run_tool(tmp_path, "git_log", {})
    assert run.ok and run.text == "no commits yet"


def test_diff_summary_handles_renames_binaries_and_deletions() -> None:
    patch = """\
diff --git a/gone.py b/gone.py
deleted file mode 100644
--- a/gone.py
+++ /dev/null
@@ -1,2 +0,0 @@
-x
-y
diff --git a/old.py b/new.py
similarity index 100%
rename from old.py
rename to new.py
diff --git a/img.png b/img.png
Binary files a/img.png and b/img.png differ
diff --git a/c.py b/c.py
--- a/c.py
+++ b/c.py
@@ -3,1 +3,2 @@
--- not a header
+++ not a header either
+z
"""
    summary = {f.path: (f.added, f.removed, f.first_line) for f in diff_summary(patch)}
    assert summary == {
        "gone.py": (0, 2, 0),
        "new.py": (0, 0, None),
        "img.png": (0, 0, None),
        "c.py": (2, 1, 3),
    }
