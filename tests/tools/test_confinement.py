"""Adversarial confinement: every way out of the project root, through every workspace tool.

Each escape must end as a *failed tool call* with a message the model can act on, the turn
must end normally, and nothing outside the root may be read, listed, searched or written.
"""

from __future__ import annotations

import contextlib
import os
import socket
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from punie_acp.workspace.root import PathRefused, Workspace
from punie_acp.workspace.safeio import open_regular, read_bytes, write_atomic
from tests.tools.turns import EditorDouble, call, new_session

pytestmark = pytest.mark.anyio

SECRET = "TOP-SECRET-CONTENT"


@pytest.fixture
def tree(tmp_path: Path) -> Iterator[Path]:
    """root/ (the project) beside outside/ (must stay untouched), with traps inside root."""
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text(SECRET + "\n")
    root = tmp_path / "root"
    (root / "sub").mkdir(parents=True)
    (root / "hello.py").write_text("print('hello')\n")
    (root / "sub" / "inner.txt").write_text("inner\n")
    (root / ".git" / "hooks").mkdir(parents=True)
    (root / ".git" / "config").write_text("[core]\n")
    (root / "link_out").symlink_to(outside)  # a symlinked directory pointing out
    (root / "secret_link").symlink_to(outside / "secret.txt")  # a symlinked file pointing out
    (root / "abs_link").symlink_to("/etc/passwd")
    (root / "loop_a").symlink_to(root / "loop_b")  # a symlink loop
    (root / "loop_b").symlink_to(root / "loop_a")
    (root / "self_loop").symlink_to("self_loop")
    (root / "chain").symlink_to("sub/../link_out/secret.txt")  # relative chain leaving via another link
    os.mkfifo(root / "fifo")
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(root / "sock"))
    with contextlib.suppress(PermissionError, OSError):
        os.mknod(root / "null_dev", 0o600 | stat.S_IFCHR, os.makedev(1, 3))
    try:
        yield root
    finally:
        sock.close()


def outside_untouched(root: Path) -> None:
    outside = root.parent / "outside"
    assert sorted(p.name for p in outside.iterdir()) == ["secret.txt"]
    assert (outside / "secret.txt").read_text() == SECRET + "\n"


# The escapes, each with a word its refusal must contain.
ESCAPES: list[tuple[str, str]] = [
    ("../outside/secret.txt", "outside the project root"),
    ("sub/../../outside/secret.txt", "outside the project root"),
    ("sub/../sub/../../outside/secret.txt", "outside the project root"),
    ("./../outside", "outside the project root"),
    ("/etc/passwd", "outside the project root"),
    ("//etc/passwd", "outside the project root"),
    ("/", "outside the project root"),
    ("~", "'~' is not expanded"),
    ("~/secret.txt", "'~' is not expanded"),
    ("~root/.bashrc", "'~' is not expanded"),
    ("hello.py\x00.txt", "NUL byte"),
    ("sub/\x00", "NUL byte"),
    ("hello.py\n", "control character"),
    ("link_out/secret.txt", "outside the project root"),
    ("link_out", "outside the project root"),
    ("link_out/../outside/secret.txt", "outside the project root"),
    ("secret_link", "outside the project root"),
    ("abs_link", "outside the project root"),
    ("chain", "outside the project root"),
    ("loop_a", "symlink loop"),
    ("loop_a/x.txt", "symlink loop"),
    ("self_loop", "symlink loop"),
    ("fifo", "FIFO"),
    ("sock", "socket"),
    # Unicode look-alikes of '.' and '/':
    ("．．／outside/secret.txt", "looks like a dot"),
    ("..／outside/secret.txt", "looks like a slash"),
    ("．．/outside/secret.txt", "looks like a dot"),
    ("..\u2215outside\u2215secret.txt", "looks like a slash"),  # DIVISION SLASH
    ("..\u2044outside", "looks like a slash"),  # FRACTION SLASH
    ("..\u29f8outside", "looks like a slash"),  # BIG SOLIDUS
    ("\u2025/outside/secret.txt", "looks like a dot"),  # TWO DOT LEADER
    ("\ufe52\ufe52/outside", "looks like a dot"),  # SMALL FULL STOP
    ("..\uff3coutside", "looks like a slash"),  # FULLWIDTH REVERSE SOLIDUS
    ("..\\outside\\secret.txt", "backslash"),
    ("C:\\Windows\\system.ini", "backslash"),
    # Invisible characters that make a path read differently from what it is:
    ("sub/\u202etxt.exe", "invisible format character"),  # RIGHT-TO-LEFT OVERRIDE
    ("hello\u200b.py", "invisible format character"),  # ZERO WIDTH SPACE
    ("hello.py\u2028", "control character"),  # LINE SEPARATOR
    # Too long to be a real path:
    ("a/" * 2100 + "x", "too long"),
    ("x" * 300, "too long"),
]


def escapes_for_tool(tool: str) -> list[Any]:
    return [pytest.param(tool, path, word, id=f"{tool}:{path[:40]!a}") for path, word in ESCAPES]


def args_for(tool: str, path: str) -> dict[str, Any]:
    return {
        "read_file": {"path": path},
        "list_files": {"path": path},
        "grep": {"pattern": "SECRET", "path": path},
        "write_file": {"path": path, "content": "pwned\n"},
        "edit_file": {"path": path, "old_text": SECRET, "new_text": "pwned"},
    }[tool]


TOOLS = ["read_file", "list_files", "grep", "write_file", "edit_file"]


@pytest.mark.parametrize(("tool", "path", "word"), [p for t in TOOLS for p in escapes_for_tool(t)])
async def test_every_tool_refuses_every_escape(tree: Path, tool: str, path: str, word: str) -> None:
    # allow_always: a refusal must come from confinement, never from a permission answer.
    session, editor = new_session(tree, EditorDouble(answers=["allow_always"]))
    result = await call(session, tool, **args_for(tool, path))
    assert not result.ok, result
    assert word in result.raw_output, result.raw_output
    assert SECRET not in result.raw_output
    assert editor.requests == [], "refused before anyone was asked"
    outside_untouched(tree)
    await session.workspace.aclose()


async def test_character_device_is_refused(tree: Path) -> None:
    if not (tree / "null_dev").exists():
        pytest.skip("cannot create a device node here (no CAP_MKNOD)")
    for tool in TOOLS:
        session, _ = new_session(tree, EditorDouble(answers=["allow_always"]))
        result = await call(session, tool, **args_for(tool, "null_dev"))
        assert not result.ok and "character device" in result.raw_output


@pytest.mark.parametrize(
    "path",
    [".git/hooks/pre-commit", ".GIT/hooks/pre-commit", ".Git/config", "sub/../.git/config", "x/.Hg/hgrc", ".svn/x"],
)
async def test_writes_never_reach_vcs_metadata_in_any_case(tree: Path, path: str) -> None:
    session, editor = new_session(tree, EditorDouble(answers=["allow_always"]))
    for tool in ("write_file", "edit_file"):
        result = await call(session, tool, **args_for(tool, path))
        assert not result.ok and "version-control metadata" in result.raw_output
    assert not (tree / ".git" / "hooks" / "pre-commit").exists()
    assert (tree / ".git" / "config").read_text() == "[core]\n"
    assert editor.requests == []
    # Reading it stays possible.
    assert (await call(session, "read_file", path=".git/config")).ok


async def test_case_tricks_on_the_root_prefix_are_refused(tree: Path) -> None:
    """On this case-sensitive filesystem a differently-cased root is another directory."""
    session, _ = new_session(tree)
    shouted = str(tree).upper() + "/hello.py"
    result = await call(session, "read_file", path=shouted)
    assert not result.ok and "outside the project root" in result.raw_output


async def test_paths_that_stay_inside_are_fine(tree: Path) -> None:
    session, _ = new_session(tree)
    cases = {"hello.py": "hello", "./hello.py": "hello", "sub/../hello.py": "hello", "sub//inner.txt": "inner"}
    cases[str(tree / "hello.py")] = "hello"
    for path, expected in cases.items():
        result = await call(session, "read_file", path=path)
        assert result.ok and expected in result.raw_output, (path, result)
    # A root reached through a symlink is the same root.
    alias = tree.parent / "alias"
    alias.symlink_to(tree)
    assert (await call(session, "read_file", path=str(alias / "hello.py"))).ok
    # A symlink that stays inside is followed.
    (tree / "inner_link").symlink_to(tree / "sub" / "inner.txt")
    assert "inner" in (await call(session, "read_file", path="inner_link")).raw_output


async def test_listing_and_search_never_show_what_is_outside(tree: Path) -> None:
    session, _ = new_session(tree)
    listed = await call(session, "list_files")
    assert listed.ok
    names = listed.raw_output.splitlines()
    assert "hello.py" in names and "sub/inner.txt" in names
    for trap in ("secret_link", "abs_link", "link_out", "loop_a", "fifo", "sock", "chain", ".git/config"):
        assert not any(n == trap or n.startswith(trap + "/") for n in names), trap
    found = await call(session, "grep", pattern="SECRET|root:")
    assert found.ok and SECRET not in found.raw_output and "root:" not in found.raw_output
    await session.workspace.aclose()


def test_lone_surrogates_are_refused(tree: Path) -> None:
    workspace = Workspace(tree)
    with pytest.raises(PathRefused, match="surrogate"):
        workspace.resolve("hello\ud800.py")
    with pytest.raises(PathRefused, match="must be a string"):
        workspace.resolve(42)  # type: ignore[arg-type]


# --- time of check to time of use --------------------------------------------------------------
# The resolver's answer is only true when it is given. Local I/O walks the resolved path again
# from the root with O_NOFOLLOW on every component (safeio), so a swap in between is refused.


def test_file_swapped_for_a_symlink_after_resolve_is_not_followed(tree: Path) -> None:
    workspace = Workspace(tree)
    target = workspace.resolve("victim.txt", for_write=True)
    (tree / "victim.txt").symlink_to(tree.parent / "outside" / "secret.txt")
    with pytest.raises(PathRefused, match="changed while in use"):
        open_regular(tree, target)
    with pytest.raises(PathRefused, match="changed while in use"):
        read_bytes(tree, target, 1024)
    with pytest.raises(PathRefused, match="changed while in use"):
        write_atomic(tree, target, b"pwned\n")
    assert (tree / "victim.txt").is_symlink()
    outside_untouched(tree)


def test_directory_swapped_for_a_symlink_after_resolve_is_refused(tree: Path) -> None:
    workspace = Workspace(tree)
    (tree / "d").mkdir()
    (tree / "d" / "f.txt").write_text("ok\n")
    target = workspace.resolve("d/secret.txt", for_write=True)
    (tree / "d").rename(tree / "d_moved")
    (tree / "d").symlink_to(tree.parent / "outside")
    with pytest.raises(PathRefused, match="changed while in use"):
        open_regular(tree, target)
    with pytest.raises(PathRefused, match="changed while in use"):
        write_atomic(tree, target, b"pwned")
    outside_untouched(tree)


def test_file_swapped_for_a_fifo_after_resolve_does_not_hang(tree: Path) -> None:
    workspace = Workspace(tree)
    target = workspace.resolve("pipe.txt")
    os.mkfifo(tree / "pipe.txt")  # opening a FIFO for reading blocks without O_NONBLOCK
    with pytest.raises(PathRefused, match="changed while in use"):
        open_regular(tree, target)


async def test_swap_while_the_permission_prompt_is_open_is_refused(tree: Path) -> None:
    """The user's answer can take minutes; the edit re-resolves before writing."""

    async def swap(_request: object) -> None:
        (tree / "sub").rename(tree / "sub_moved")
        (tree / "sub").symlink_to(tree.parent / "outside")

    editor = EditorDouble(answers=["allow_once"], on_prompt=swap)
    session, _ = new_session(tree, editor)
    result = await call(session, "edit_file", path="sub/inner.txt", old_text="inner", new_text="pwned")
    assert not result.ok and "outside the project root" in result.raw_output
    assert len(editor.requests) == 1
    assert (tree / "sub_moved" / "inner.txt").read_text() == "inner\n"
    outside_untouched(tree)


def test_hard_links_are_replaced_not_written_through(tree: Path) -> None:
    """A hard link to a file outside cannot be told apart when *reading* (same inode: a known
    limit, and only a user can make one). Writes replace the link atomically instead."""
    outside_file = tree.parent / "outside" / "secret.txt"
    os.link(outside_file, tree / "hard.txt")
    workspace = Workspace(tree)
    write_atomic(tree, workspace.resolve("hard.txt", for_write=True), b"new\n")
    assert (tree / "hard.txt").read_text() == "new\n"
    outside_untouched(tree)


async def test_a_root_with_unusual_characters_is_the_users_choice(tmp_path: Path) -> None:
    root = tmp_path / "プロジェクト．v2"
    root.mkdir()
    (root / "a.txt").write_text("ok\n")
    session, _ = new_session(root)
    assert (await call(session, "read_file", path=str(root / "a.txt"))).raw_output == "ok\n"
    refused = await call(session, "read_file", path=str(root / "．．／a.txt"))
    assert not refused.ok and "looks like a dot" in refused.raw_output
