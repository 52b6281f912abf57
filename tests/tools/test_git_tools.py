"""git_status, git_diff and git_log on a temporary repository."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from punie_acp.tools.git import diff_summary
from punie_acp.tools.gitlayout import GitRefused, unquote_c
from punie_acp.tools.gitsafe import find_git, git_sandbox, safe_index_path, search_path
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


# The sandbox: what git may read, and what it reads it from ----------------------------------


async def test_status_shows_the_upstream_from_the_repositorys_config(repo: Path) -> None:
    git(repo, "update-ref", "refs/remotes/origin/main", "HEAD~1")
    git(repo, "config", "remote.origin.fetch", "+refs/heads/*:refs/remotes/origin/*")
    git(repo, "config", "branch.main.remote", "origin")
    git(repo, "config", "branch.main.merge", "refs/heads/main")
    run = await run_tool(repo, "git_status", {})
    assert run.text.splitlines()[0] == "on branch main, tracking origin/main (ahead 1)"


async def test_git_reads_only_the_private_config(repo: Path) -> None:
    git(repo, "config", "filter.evil.clean", "touch /tmp/never")
    git(repo, "config", "core.filemode", "false")
    git(repo, "config", "branch.main.merge", "refs/heads/main; touch /tmp/never")
    git(repo, "config", "include.path", "/etc/passwd")  # not even git config runs in it after this
    async with git_sandbox(repo) as sandbox:
        result = await sandbox.run(["config", "--list", "--show-origin"])
        private = sandbox.private_dir
        assert private.is_dir()
    origins = {line.split("\t")[0] for line in result.output.splitlines()}
    assert origins == {f"file:{private / 'config'}"}
    assert "core.filemode=false" in result.output  # copied: it passes the allow-list
    assert "filter." not in result.output and "include." not in result.output and "branch." not in result.output
    assert not private.exists()


async def test_the_tools_never_write_the_index(repo: Path) -> None:
    before = (repo / ".git" / "index").read_bytes()
    info = (repo / "a.py").stat()
    os.utime(repo / "a.py", ns=(info.st_atime_ns, info.st_mtime_ns + 5_000_000_000))
    status = await run_tool(repo, "git_status", {})
    diff = await run_tool(repo, "git_diff", {})  # a plain `git diff` refreshes and rewrites the index here
    assert "nothing changed" in status.text and diff.text.startswith("no unstaged changes")
    assert (repo / ".git" / "index").read_bytes() == before


async def test_a_repository_inside_the_root_reached_through_a_gitfile_or_symlink(tmp_path: Path) -> None:
    for kind in ("gitfile", "symlink"):
        root = (tmp_path / kind).resolve()
        (root / ".store").mkdir(parents=True)
        git(root, "init", "-q", "-b", "main", f"--separate-git-dir={root / '.store' / 'git'}")
        if kind == "symlink":
            (root / ".git").unlink()
            (root / ".git").symlink_to(".store/git")
        (root / "a.py").write_text("x\n")
        run = await run_tool(root, "git_status", {})
        assert run.ok, run.text
        assert "a.py" in run.text


async def test_a_linked_worktree_of_a_repository_elsewhere_is_refused(repo: Path, tmp_path: Path) -> None:
    worktree = (tmp_path / "wt").resolve()
    git(repo, "worktree", "add", "-q", str(worktree))
    run = await run_tool(worktree, "git_status", {})
    assert not run.ok and "is a gitfile pointing outside the project root" in run.text
    # A folder of that worktree: the checkout holding it may not reach outside itself either.
    run = await run_tool(worktree / "src", "git_status", {})
    assert not run.ok and f"outside the checkout {worktree}" in run.text


async def test_alternates_inside_the_root_are_followed(repo: Path) -> None:
    base = repo / "vendor" / "b\u00e9se"
    base.mkdir(parents=True)
    git(base, "init", "-q", "-b", "main")
    (base / "x.txt").write_text("borrowed\n")
    git(base, "add", "x.txt")
    git(base, "commit", "-q", "-m", "base")
    info = repo / ".git" / "objects" / "info"
    info.mkdir(exist_ok=True)
    (info / "alternates").write_text('# borrowed objects\n"../../vendor/b\\303\\251se/.git/objects"\n')
    blob = git(base, "rev-parse", "HEAD:x.txt").strip()
    git(repo, "update-index", "--add", "--cacheinfo", f"100644,{blob},x.txt")
    (repo / "x.txt").write_text("borrowed\nand changed\n")
    run = await run_tool(repo, "git_diff", {"path": "x.txt"})
    assert run.ok, run.text
    assert "+and changed" in run.text


async def test_sha256_and_split_index_repositories(tmp_path: Path) -> None:
    root = (tmp_path / "sha256").resolve()
    root.mkdir()
    git(root, "init", "-q", "-b", "main", "--object-format=sha256")
    (root / "a.py").write_text("one\n")
    git(root, "add", "a.py")
    git(root, "commit", "-q", "-m", "first")
    git(root, "update-index", "--split-index")
    (root / "a.py").write_text("two\n")
    assert list((root / ".git").glob("sharedindex.*"))
    status = await run_tool(root, "git_status", {})
    diff = await run_tool(root, "git_diff", {})
    log = await run_tool(root, "git_log", {})
    assert status.text.splitlines()[1:] == ["not staged:", "  M a.py"], status.text
    assert "+two" in diff.text and len(log.text.split(" ")[0]) >= 7 and log.text.endswith("Ada: first")


async def test_unsupported_extensions_and_special_files_are_refused(repo: Path) -> None:
    git(repo, "config", "core.repositoryformatversion", "1")
    git(repo, "config", "extensions.refStorage", "reftable")
    run = await run_tool(repo, "git_status", {})
    assert not run.ok and "extensions.refstorage" in run.text
    git(repo, "config", "--file", ".git/config", "--unset", "extensions.refStorage")
    os.mkfifo(repo / ".git" / "packed-refs")  # git would block on it
    run = await run_tool(repo, "git_log", {})
    assert not run.ok and "not a regular file" in run.text
    (repo / ".git" / "packed-refs").unlink()
    (repo / ".git" / "refs" / "heads" / "loop").symlink_to("loop")
    run = await run_tool(repo, "git_log", {})
    assert run.ok, run.text


async def test_paths_are_literal_not_patterns(repo: Path) -> None:
    (repo / "a.py").write_text("changed\n")
    run = await run_tool(repo, "git_diff", {"path": "*.py"})
    assert run.text.startswith("no unstaged changes in *.py")
    run = await run_tool(repo, "git_log", {"path": "[a].py"})
    assert run.text == "no commits touch [a].py"


def test_index_paths_that_leave_the_working_tree() -> None:
    for bad in [b"", b"/etc/passwd", b"../x", b"a/../../x", b"a//b", b"./a", b"a/.", b".git/config", b"x/.GIT/y"]:
        assert not safe_index_path(bad), bad
    for good in [b"a.py", b"src/b.py", b"..a", b"a..", b".gitignore", b"dir/.github/x", b"-rf"]:
        assert safe_index_path(good), good


def test_git_is_never_found_through_a_relative_or_project_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = (tmp_path / "root").resolve()
    for folder in (root / "bin", tmp_path / "rel"):
        folder.mkdir(parents=True)
        (folder / "git").write_text("#!/bin/sh\n")
        (folder / "git").chmod(0o755)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PATH", os.pathsep.join(["rel", "", ".", str(root / "bin"), os.environ["PATH"]]))
    found = find_git(root)
    assert os.path.isabs(found) and not found.startswith(str(tmp_path))
    assert str(root) not in search_path(root) and "rel" not in search_path(root).split(os.pathsep)


def test_c_quoted_paths() -> None:
    assert unquote_c('"a\\tb\\303\\251\\"c\\\\"') == 'a\tb\u00e9"c\\'
    for bad in ['"unterminated', '"bad \\q escape"', '"x" trailing']:
        with pytest.raises(GitRefused):
            unquote_c(bad)


async def test_an_incomplete_git_directory_is_named(tmp_path: Path) -> None:
    (tmp_path / ".git").mkdir()
    run = await run_tool(tmp_path, "git_status", {})
    assert not run.ok and run.text.endswith(".git is not a complete git directory (HEAD, objects or refs missing)")
    assert "punie-git-" not in run.text


async def test_the_users_global_ignore_file_still_applies(
    repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config_home = tmp_path / "my config"
    (config_home / "git").mkdir(parents=True)
    (config_home / "git" / "ignore").write_text("*.log\n")
    (config_home / "git" / "config").write_text('[core]\n\tpager = false\n[filter "x"]\n\tclean = false\n')
    monkeypatch.setenv("XDG_CONFIG_HOME", str(config_home))
    (repo / "debug.log").write_text("noise\n")
    (repo / "notes.txt").write_text("new\n")
    run = await run_tool(repo, "git_status", {})
    assert run.text.splitlines() == ["on branch main", "untracked:", "  notes.txt"]
    async with git_sandbox(repo) as sandbox:
        result = await sandbox.run(["config", "--list"])
    assert "filter." not in result.output and "core.pager=cat" in result.output


async def test_a_racily_clean_file_is_still_compared(repo: Path) -> None:
    """The private copy of the index keeps its mtime: git re-reads files as new as the index itself."""
    git(repo, "config", "core.trustctime", "false")  # copied into the private config (allow-listed)
    stamp = (1_700_000_000_000_000_000, 1_700_000_000_000_000_000)
    os.utime(repo / "a.py", ns=stamp)
    git(repo, "update-index", "--refresh")  # the index records that stat data (the file is old: not smudged)
    (repo / "a.py").write_text("one\nTWO\nthree\n")  # same size, same inode
    os.utime(repo / "a.py", ns=stamp)
    os.utime(repo / ".git" / "index", ns=stamp)  # as if the index was written in the same instant
    run = await run_tool(repo, "git_diff", {})
    assert run.text.startswith("1 file with unstaged changes in .: +1 -1"), run.text


async def test_a_loop_of_borrowed_object_stores_is_refused(repo: Path) -> None:
    info = repo / ".git" / "objects" / "info"
    info.mkdir(exist_ok=True)
    (info / "alternates").write_text(f"{repo / '.git' / 'objects'}\n")  # itself: git would warn and go on
    run = await run_tool(repo, "git_log", {})
    assert not run.ok and "too long to check" in run.text


@pytest.mark.parametrize("part", ["HEAD", "refs/heads/main", "refs", "info/exclude", "objects/pack", "config", "index"])
async def test_a_part_of_git_that_is_a_symlink_outside_is_refused(repo: Path, tmp_path: Path, part: str) -> None:
    elsewhere = tmp_path / "elsewhere" / part
    elsewhere.parent.mkdir(parents=True, exist_ok=True)
    (repo / ".git" / part).rename(elsewhere)
    (repo / ".git" / part).symlink_to(elsewhere)
    run = await run_tool(repo, "git_log", {})
    assert not run.ok and "is a symlink pointing outside the project root" in run.text


@pytest.mark.parametrize(
    ("dotgit", "message"),
    [
        ("gitdir:", "is a file but not a gitfile"),
        ("ref: refs/heads/main\n", "is a file but not a gitfile"),
        ("gitdir: missing\n", "does not lead to a git directory"),
        ("gitdir: /etc\n", "is a gitfile pointing outside the project root"),
        (None, "is neither a folder nor a gitfile"),
    ],
)
async def test_a_dot_git_that_is_not_a_repository(tmp_path: Path, dotgit: str | None, message: str) -> None:
    if dotgit is None:
        os.mkfifo(tmp_path / ".git")
    else:
        (tmp_path / ".git").write_text(dotgit)
    run = await run_tool(tmp_path, "git_status", {})
    assert not run.ok and message in run.text, run.text
