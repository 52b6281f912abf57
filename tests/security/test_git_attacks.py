"""Attacks on the git tools through the real `punie serve`.

`git_status`, `git_diff` and `git_log` never ask for permission, in any mode, so nothing the
repository chooses may run, and they may read nothing outside the project root. Each attack is
a root prepared the way an attacker would ship it (see `git_hostile`), driven by a scripted model
in read-only mode against an editor that rejects every permission prompt.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.security import git_hostile
from tests.security.git_hostile import ALL_TOOLS, Builder, committed, private_repo
from tests.security.hostile import SECRET, AttackResult, Outside, assert_contained, run_attack
from tests.support.acp_client import RecordingClient

pytestmark = pytest.mark.anyio


def final_texts(result: AttackResult) -> list[str]:
    """What each tool call finally showed the editor (its text content)."""
    texts = []
    for event in result.finals():
        parts = [c.content.text for c in event.content or [] if getattr(c, "type", "") == "content"]
        texts.append("\n".join(parts))
    return texts


def assert_git_contained(result: AttackResult, outside: Outside, calls: int) -> None:
    assert_contained(result, outside)
    assert result.client.permission_requests == [], "a git tool asked for permission"
    assert result.stop_reason == "end_turn"
    assert len(result.finals()) == calls, "every git call ends, completed or failed"


async def attack(tmp_path: Path, build: Builder) -> tuple[AttackResult, Outside, int]:
    outside = Outside(tmp_path / "outside")
    steps = build(tmp_path / "root", outside)
    result = await run_attack(tmp_path / "root", steps, tmp_path / "log", mode="read-only")
    return result, outside, len(steps)


# Roots that are no repository the tools read: the rest are served (their config is just not read).
NOT_SERVED = {git_hostile.bare_root}
REFUSALS = ("outside the project root", "looks crafted")


@pytest.mark.parametrize("build", git_hostile.EXECUTION.values(), ids=git_hostile.EXECUTION.keys())
async def test_nothing_the_repository_chooses_runs(tmp_path: Path, build: Builder) -> None:
    result, outside, calls = await attack(tmp_path, build)
    assert_git_contained(result, outside, calls)
    if build not in NOT_SERVED:  # safe because nothing runs, not because the tools gave up
        assert result.finals()[-1].status == "completed", final_texts(result)


@pytest.mark.parametrize("build", git_hostile.READS_OUTSIDE.values(), ids=git_hostile.READS_OUTSIDE.keys())
async def test_nothing_outside_the_root_is_read(tmp_path: Path, build: Builder) -> None:
    result, outside, calls = await attack(tmp_path, build)
    assert_git_contained(result, outside, calls)
    assert "private" not in result.shown, "a path of the repository outside the root was shown"
    for event, text in zip(result.finals(), final_texts(result), strict=True):
        assert event.status == "completed" or any(reason in text for reason in REFUSALS), text


async def test_a_gitfile_to_another_repository_is_refused_with_a_reason(tmp_path: Path) -> None:
    result, outside, calls = await attack(tmp_path, git_hostile.gitfile)
    assert_git_contained(result, outside, calls)
    texts = final_texts(result)
    assert all("outside the project root" in text for text in texts), texts


async def test_git_found_through_a_relative_path_entry_is_not_the_projects(tmp_path: Path) -> None:
    """A relative PATH entry (`.`, `bin`, `node_modules/.bin`) must not find a `git` the project ships."""
    outside = Outside(tmp_path / "outside")
    root = committed(tmp_path / "root")
    (root / "a.py").write_text("changed\n")
    fake = root / "bin" / "git"
    fake.parent.mkdir()
    fake.write_text(f"#!/bin/sh\n{outside.payload()}\necho {SECRET}\n")
    fake.chmod(0o755)
    # Enough '..' to reach '/' from any working directory: the entry is relative, yet names the root's bin.
    relative = "../" * 64 + str(fake.parent).lstrip("/")
    env = {"PATH": f"{relative}:{os.environ['PATH']}"}
    result = await run_attack(root, ALL_TOOLS, tmp_path / "log", mode="read-only", env=env)
    assert_git_contained(result, outside, len(ALL_TOOLS))
    assert "a.py" in result.shown  # the real git answered


async def test_git_variables_in_the_servers_environment_are_ignored(tmp_path: Path) -> None:
    outside = Outside(tmp_path / "outside")
    private = private_repo(outside)
    root = committed(tmp_path / "root")
    env = {
        "GIT_DIR": str(private / ".git"),
        "GIT_WORK_TREE": str(private),
        "GIT_INDEX_FILE": str(private / ".git" / "index"),
        "GIT_OBJECT_DIRECTORY": str(private / ".git" / "objects"),
        "GIT_CONFIG_PARAMETERS": f"'core.fsmonitor'='{outside.script()}' 'core.pager'='{outside.script()}'",
        "GIT_CONFIG_COUNT": "1",
        "GIT_CONFIG_KEY_0": "log.showSignature",
        "GIT_CONFIG_VALUE_0": "true",
        "GIT_EXTERNAL_DIFF": str(outside.script()),
        "GIT_PAGER": str(outside.script()),
    }
    result = await run_attack(root, ALL_TOOLS, tmp_path / "log", mode="read-only", env=env)
    assert_git_contained(result, outside, len(ALL_TOOLS))
    assert "private" not in result.shown


async def test_paths_from_the_model_are_never_options(tmp_path: Path) -> None:
    outside = Outside(tmp_path / "outside")
    root = committed(tmp_path / "root")
    (root / "a.py").write_text("changed\n")
    steps = [
        ("git_diff", {"path": f"--output={outside.marker}"}),
        ("git_diff", {"path": "--ext-diff"}),
        ("git_log", {"path": f"--output={outside.marker}"}),
        ("git_log", {"path": "-p"}),
        ("git_diff", {"path": ":(top)"}),
        ("git_log", {"path": ":/"}),
    ]
    result = await run_attack(root, steps, tmp_path / "log", mode="read-only")
    assert_git_contained(result, outside, len(steps))
    assert "+changed" not in result.shown  # no path above matched a.py


@pytest.mark.parametrize("mode", ["ask", "auto-edit"])
async def test_the_other_modes_run_nothing_either(tmp_path: Path, mode: str) -> None:
    """The git tools ask in no mode; a client that would allow everything changes nothing."""
    outside = Outside(tmp_path / "outside")
    steps = git_hostile.filter_clean(tmp_path / "root", outside)  # status, diff, diff --staged, log
    git_hostile.config(tmp_path / "root", "log.showSignature", "true")
    git_hostile.config(tmp_path / "root", "gpg.program", str(outside.script()))
    git_hostile.signed_commit(tmp_path / "root", "-----BEGIN PGP SIGNATURE-----\n\nAAAA\n-----END PGP SIGNATURE-----")
    client = RecordingClient("allow_always")
    result = await run_attack(tmp_path / "root", steps, tmp_path / "log", mode=mode, client=client)
    assert_git_contained(result, outside, len(steps))
