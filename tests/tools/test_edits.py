"""write_file / edit_file: exact edits, diffs, permission outcomes and modes, editor-side I/O."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import pytest

from punie_acp.core.events import DiffContent, ToolFinished
from punie_acp.core.host import HostCapabilities
from tests.tools.turns import EditorDouble, call, new_session, run_calls

pytestmark = pytest.mark.anyio

SOURCE = "def greet(name):\n    return 'hi ' + name\n\n\ndef main():\n    print(greet('x'))\n"


@pytest.fixture
def root(tmp_path: Path) -> Path:
    (tmp_path / "app.py").write_text(SOURCE)
    return tmp_path


def diffs(record_events: Sequence[object]) -> list[DiffContent]:
    return [c for e in record_events for c in getattr(e, "content", ()) if isinstance(c, DiffContent)]


# --- edit semantics ----------------------------------------------------------------------------


async def test_edit_replaces_exactly_one_match_and_reports_the_diff(root: Path) -> None:
    session, editor = new_session(root, EditorDouble(answers=["allow_once"]))
    record = await run_calls(session, [("edit_file", {"path": "app.py", "old_text": "'hi '", "new_text": "'hello '"})])
    result = record.result()
    assert result.ok, result
    assert result.raw_output == "Edited app.py at line 2: 1 line(s) replaced by 1"
    assert (root / "app.py").read_text() == SOURCE.replace("'hi '", "'hello '")
    [request] = editor.requests
    assert request.kind == "edit" and request.title == "Edit app.py"
    [diff] = request.content
    assert isinstance(diff, DiffContent)
    assert diff.path == root.resolve() / "app.py" and diff.path.is_absolute()
    assert diff.old_text == SOURCE and diff.new_text == SOURCE.replace("'hi '", "'hello '")
    assert diffs(record.events) == [diff]  # the tool call shows it too
    locations = [loc for p in record.progress() for loc in p.locations]
    assert [(loc.path, loc.line) for loc in locations] == [(root.resolve() / "app.py", 2)]


async def test_edit_failures_explain_what_to_do(root: Path) -> None:
    session, editor = new_session(root, EditorDouble())
    missing = await call(session, "edit_file", path="app.py", old_text="nope", new_text="x")
    assert not missing.ok and "was not found in app.py" in missing.raw_output
    indented = await call(session, "edit_file", path="app.py", old_text="return 'hi ' + name  ", new_text="x")
    assert "ignoring leading/trailing whitespace is at line 2" in indented.raw_output
    twice = await call(session, "edit_file", path="app.py", old_text="def ", new_text="async def ")
    assert not twice.ok and "occurs 2 times in app.py (at lines 1, 5)" in twice.raw_output
    empty = await call(session, "edit_file", path="app.py", old_text="", new_text="x")
    assert not empty.ok and "old_text is empty" in empty.raw_output
    same = await call(session, "edit_file", path="app.py", old_text="main", new_text="main")
    assert not same.ok and "nothing to change" in same.raw_output
    absent = await call(session, "edit_file", path="nope.py", old_text="a", new_text="b")
    assert not absent.ok and "use write_file to create it" in absent.raw_output
    directory = await call(session, "write_file", path=".", content="x")
    assert not directory.ok
    assert editor.requests == [] and (root / "app.py").read_text() == SOURCE


async def test_overlapping_matches_count_as_ambiguous(root: Path) -> None:
    (root / "a.txt").write_text("aaa\n")
    session, _ = new_session(root, EditorDouble())
    result = await call(session, "edit_file", path="a.txt", old_text="aa", new_text="b")
    assert not result.ok and "occurs 2 times" in result.raw_output


async def test_crlf_files_keep_their_line_endings(root: Path) -> None:
    (root / "win.txt").write_bytes(b"one\r\ntwo\r\nthree\r\n")
    session, _ = new_session(root, EditorDouble(answers=["allow_once"]))
    result = await call(session, "edit_file", path="win.txt", old_text="one\ntwo\n", new_text="1\n2\n")
    assert result.ok, result
    assert (root / "win.txt").read_bytes() == b"1\r\n2\r\nthree\r\n"


async def test_binary_and_non_utf8_files_are_not_edited(root: Path) -> None:
    (root / "blob.bin").write_bytes(b"\x00\x01abc")
    (root / "latin.txt").write_bytes("caf\xe9\n".encode("latin-1"))
    session, _ = new_session(root, EditorDouble(answers=["allow_always"]))
    blob = await call(session, "edit_file", path="blob.bin", old_text="abc", new_text="x")
    assert not blob.ok and "binary" in blob.raw_output
    latin = await call(session, "write_file", path="latin.txt", content="x")
    assert not latin.ok and "not UTF-8" in latin.raw_output
    assert (root / "blob.bin").read_bytes() == b"\x00\x01abc"


async def test_write_creates_directories_and_keeps_the_file_mode(root: Path) -> None:
    os.chmod(root / "app.py", 0o751)
    session, editor = new_session(root, EditorDouble(answers=["allow_once", "allow_once"]))
    created = await call(session, "write_file", path="pkg/deep/new.py", content="x = 1\n")
    assert created.ok and created.raw_output == "Created pkg/deep/new.py (1 lines)"
    assert (root / "pkg" / "deep" / "new.py").read_text() == "x = 1\n"
    assert editor.requests[0].title == "Write pkg/deep/new.py"  # the tool call's own title
    [diff] = editor.requests[0].content
    assert isinstance(diff, DiffContent) and diff.old_text is None and diff.new_text == "x = 1\n"
    replaced = await call(session, "write_file", path="app.py", content="pass\n")
    assert replaced.ok and "6 lines before, 1 now" in replaced.raw_output
    assert (root / "app.py").read_text() == "pass\n"
    assert (root / "app.py").stat().st_mode & 0o777 == 0o751
    unchanged = await call(session, "write_file", path="app.py", content="pass\n")
    assert unchanged.ok and "nothing written" in unchanged.raw_output
    assert len(editor.requests) == 2  # no prompt for a write that changes nothing
    assert not [p for p in root.rglob("*.tmp")]


async def test_content_changed_while_the_prompt_was_open_is_not_overwritten(root: Path) -> None:
    async def user_types(_request: object) -> None:
        (root / "app.py").write_text(SOURCE + "# typed meanwhile\n")

    session, _ = new_session(root, EditorDouble(answers=["allow_once"], on_prompt=user_types))
    result = await call(session, "edit_file", path="app.py", old_text="main", new_text="run")
    assert not result.ok and "changed while waiting for permission" in result.raw_output
    assert (root / "app.py").read_text() == SOURCE + "# typed meanwhile\n"


# --- permission outcomes -------------------------------------------------------------------------


async def test_reject_once_leaves_the_file_and_asks_again_next_time(root: Path) -> None:
    session, editor = new_session(root, EditorDouble(answers=["reject_once", "allow_once"]))
    rejected = await call(session, "edit_file", path="app.py", old_text="main", new_text="run")
    assert not rejected.ok and "the user rejected this" in rejected.raw_output
    assert (root / "app.py").read_text() == SOURCE
    allowed = await call(session, "edit_file", path="app.py", old_text="main", new_text="run")
    assert allowed.ok and len(editor.requests) == 2
    assert session.permissions.refusals == 1  # the rejection; failed edits were never asked about


async def test_reject_always_refuses_later_edits_without_asking(root: Path) -> None:
    session, editor = new_session(root, EditorDouble(answers=["reject_always"]))
    first = await call(session, "write_file", path="a.txt", content="a")
    second = await call(session, "edit_file", path="app.py", old_text="main", new_text="run")
    assert not first.ok and not second.ok
    assert "rejected this kind of action for the session" in second.raw_output
    assert len(editor.requests) == 1
    assert session.permissions.refusals == 2  # the answer, then the remembered one
    assert not (root / "a.txt").exists() and (root / "app.py").read_text() == SOURCE


async def test_allow_always_is_remembered_per_session(root: Path) -> None:
    editor = EditorDouble(answers=["allow_always", "allow_once"])
    session, _ = new_session(root, editor)
    assert (await call(session, "write_file", path="a.txt", content="a")).ok
    assert (await call(session, "edit_file", path="app.py", old_text="main", new_text="run")).ok
    assert len(editor.requests) == 1  # no second prompt
    assert session.permissions.refusals == 0
    other, _ = new_session(root, editor)  # another session asks again
    assert (await call(other, "write_file", path="b.txt", content="b")).ok
    assert len(editor.requests) == 2


async def test_cancelled_prompt_ends_the_turn_as_cancelled(root: Path) -> None:
    session, editor = new_session(root, EditorDouble(answers=["cancelled"]))
    record = await run_calls(session, [("edit_file", {"path": "app.py", "old_text": "main", "new_text": "run"})])
    assert record.ended.stop_reason == "cancelled"
    [done] = record.finished()
    assert isinstance(done, ToolFinished) and not done.ok and "cancelled" in done.raw_output
    assert (root / "app.py").read_text() == SOURCE
    assert len(editor.requests) == 1
    assert session.permissions.refusals == 0  # cancelled, not refused
    # The history holds no dangling tool call, so the next turn runs normally.
    editor.answers.append("allow_once")
    assert (await call(session, "edit_file", path="app.py", old_text="main", new_text="run")).ok


# --- modes ----------------------------------------------------------------------------------------


async def test_read_only_mode_refuses_edits_without_asking(root: Path) -> None:
    session, editor = new_session(root, EditorDouble(answers=["allow_always"]), mode="read-only")
    write = await call(session, "write_file", path="a.txt", content="a")
    edit = await call(session, "edit_file", path="app.py", old_text="main", new_text="run")
    for result in (write, edit):
        assert not result.ok and "not allowed in Read-only mode" in result.raw_output
    assert editor.requests == [] and not (root / "a.txt").exists()
    assert session.permissions.refusals == 2  # refused by the mode counts as refused
    assert (await call(session, "read_file", path="app.py")).ok  # reading is what it is for


async def test_auto_edit_mode_edits_without_asking(root: Path) -> None:
    session, editor = new_session(root, EditorDouble(), mode="auto-edit")
    assert (await call(session, "edit_file", path="app.py", old_text="main", new_text="run")).ok
    assert (await call(session, "write_file", path="a.txt", content="a")).ok
    assert editor.requests == [] and (root / "a.txt").read_text() == "a"


async def test_switching_mode_mid_session(root: Path) -> None:
    session, editor = new_session(root, EditorDouble(answers=["allow_always"]))
    assert (await call(session, "write_file", path="a.txt", content="a")).ok
    session.set_mode("read-only")  # a later, explicit choice wins over the remembered allow
    assert not (await call(session, "write_file", path="a.txt", content="b")).ok
    session.set_mode("ask")
    assert (await call(session, "write_file", path="a.txt", content="c")).ok
    assert len(editor.requests) == 1 and (root / "a.txt").read_text() == "c"


# --- through the editor ---------------------------------------------------------------------------

EDITOR_FS = HostCapabilities(read_text_file=True, write_text_file=True)


async def test_editor_fs_writes_go_through_the_editor_and_edit_its_buffer(root: Path) -> None:
    app = root.resolve() / "app.py"
    editor = EditorDouble(answers=["allow_always"], caps=EDITOR_FS, buffers={app: SOURCE + "# unsaved\n"})
    session, _ = new_session(root, editor)
    read = await call(session, "read_file", path="app.py")
    assert "# unsaved" in read.raw_output  # the unsaved buffer, not the disk
    edit = await call(session, "edit_file", path="app.py", old_text="# unsaved", new_text="# saved by agent")
    assert edit.ok, edit
    created = await call(session, "write_file", path="new/mod.py", content="y = 2\n")
    assert created.ok
    assert editor.writes == [(app, SOURCE + "# saved by agent\n"), (root.resolve() / "new" / "mod.py", "y = 2\n")]
    assert all(path.is_absolute() for path, _ in editor.writes)
    assert (root / "app.py").read_text() == SOURCE  # disk untouched: the editor owns the write
    assert not (root / "new" / "mod.py").exists()
    assert (root / "new").is_dir()  # its directory exists for the editor to save into


async def test_editor_fs_errors_are_failed_calls_not_crashes(root: Path) -> None:
    editor = EditorDouble(answers=["allow_always"], caps=EDITOR_FS, fs_error=RuntimeError("buffer is read-only"))
    session, _ = new_session(root, editor)
    read = await call(session, "read_file", path="app.py")
    assert not read.ok and "the editor could not read 'app.py': buffer is read-only" in read.raw_output
    editor.caps = HostCapabilities(write_text_file=True)  # reads from disk, writes refused by the editor
    write = await call(session, "write_file", path="a.txt", content="a")
    assert not write.ok and "the editor could not write 'a.txt'" in write.raw_output
    assert not (root / "a.txt").exists()
