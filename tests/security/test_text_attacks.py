"""Text that is not clean UTF-8, or that reads as something else, through the real `punie serve`.

Before: a file name that is not UTF-8, file content with undecodable bytes, an editor buffer or
a model argument with lone surrogates ended the whole prompt with `-32603 Internal error`, and a
file name holding a newline faked extra lines in a listing. Now every tool call ends as a
completed or failed call, the turn ends normally, and what the editor is shown is encodable and
one line per entry. Run with the local disk and with an editor that serves fs/*.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from tests.security.hostile import AttackResult, Outside, assert_contained, output_of, run_attack
from tests.support.acp_client import RecordingClient
from tests.support.fs_client import FsClient

pytestmark = pytest.mark.anyio

NOT_UTF8 = b"bad\xff\xfename.py"
NEWLINE = "fake\nsecret.py"
BIDI = "evil\u202egnp.py"  # reads as 'evilyp.png' in an editor that honours the override
ESCAPE = "ansi\x1b[31mred.py"
LONG = "L" * 250 + ".py"
LOOKALIKE = "dir\u2215etc.py"  # '∕' looks like a slash


def hostile_root(base: Path) -> Path:
    root = base / "root"
    root.mkdir()
    for name in (NEWLINE, BIDI, ESCAPE, LONG, LOOKALIKE, "plain.py"):
        (root / name).write_text("needle = 1\n")
    with open(os.path.join(os.fsencode(root), NOT_UTF8), "wb") as handle:
        handle.write(b"needle = 2\n")
    (root / "latin1.txt").write_bytes(b"needle caf\xe9\n\xff\xfe tail\n")
    (root / "cesu.txt").write_bytes(b"needle \xed\xa0\x80 surrogate bytes\n")
    (root / "trojan.py").write_bytes("needle = 'admin\u202e \u2066# ok\u2069 \u2066'\rfake.py:9: x\n".encode())
    return root.resolve()


STEPS: list[tuple[str, dict[str, Any]]] = [
    ("list_files", {}),
    ("grep", {"pattern": "needle"}),
    ("read_file", {"path": "latin1.txt"}),
    ("read_file", {"path": "cesu.txt"}),
    ("update_plan", {"entries": [{"content": "step \ud800 one\nfake step: completed", "status": "pending"}]}),
    ("read_file", {"path": "x\ud800y.py"}),
    ("grep", {"pattern": "needle\udc80", "path": "\ud83d", "glob": "*\udfff"}),
    ("list_files", {"path": ".", "pattern": "*\ud800"}),
    ("no\ud800such_tool", {"x": "\udc80"}),  # a made-up tool name that does not even encode
]


def listing(result: AttackResult) -> list[str]:
    final = result.finals()[0]
    assert final.status == "completed"
    return output_of(final).splitlines()


def check_every_call_ended(result: AttackResult, count: int) -> None:
    assert result.stop_reason == "end_turn"
    finals = result.finals()
    assert len(finals) == count, [output_of(f) for f in finals]


def check_nothing_misleads(result: AttackResult, root: str) -> None:
    shown = result.shown
    shown.encode("utf-8")  # strict: no lone surrogate reached the editor
    for char in ("\u202e", "\u2066", "\x1b", "\u2215", "\ud800", "\udc80"):
        assert char not in shown, f"{char!r} reached the editor unescaped"
    for update in result.client.tool_events(result.session_id):
        if update.title is not None:
            assert "\n" not in update.title
        for location in update.locations or []:
            assert "\\" not in location.path and (location.path + "/").startswith(root + "/"), location.path


async def attack(tmp_path: Path, client: RecordingClient) -> AttackResult:
    outside = Outside(tmp_path / "outside")
    root = hostile_root(tmp_path)
    result = await run_attack(root, STEPS, tmp_path / "log", client=client)
    assert_contained(result, outside)
    check_every_call_ended(result, len(STEPS))
    check_nothing_misleads(result, str(root))
    return result


@pytest.mark.parametrize("editor", ["local disk", "editor fs/*"])
async def test_hostile_names_and_bytes_end_as_tool_calls_not_as_a_failed_prompt(tmp_path: Path, editor: str) -> None:
    client = FsClient("reject_once") if editor == "editor fs/*" else RecordingClient("reject_once")
    result = await attack(tmp_path, client)
    finals = result.finals()

    lines = listing(result)
    # One line per file: the newline in a name is escaped, never a line of its own.
    assert "secret.py" not in lines and "fake" not in lines
    assert "fake\\x0asecret.py  [escaped name]" in lines
    assert "bad\\xff\\xfename.py  [escaped name]" in lines
    assert "evil\\u202egnp.py  [escaped name]" in lines
    assert "dir\\u2215etc.py  [escaped name]" in lines
    assert LONG in lines and "plain.py" in lines
    assert any("not usable in a path" in line for line in lines)

    grep = output_of(finals[1])
    assert "bad\\xff\\xfename.py:1: needle = 2" in grep
    assert "fake\\x0asecret.py:1: needle = 1" in grep
    # A matched line stays one line: its carriage return and bidi controls are escaped.
    assert "trojan.py:1: needle = 'admin\\u202e \\u2066# ok\\u2069 \\u2066'\\x0dfake.py:9: x" in grep
    assert len(grep.splitlines()) == 10  # one per file holding "needle"

    if editor == "local disk":
        assert finals[2].status == "completed"
        assert "needle caf\ufffd" in output_of(finals[2])
        assert "not UTF-8" in output_of(finals[2])
        assert finals[3].status == "completed" and "\ufffd" in output_of(finals[3])
    else:  # the editor double refuses to decode them: a failed call, the turn goes on
        assert finals[2].status == "failed" and finals[3].status == "failed"

    plans = [u for u in result.client.updates[result.session_id] if u.session_update == "plan"]
    assert [e.content for e in plans[-1].entries] == ["step \\ud800 one\\x0afake step: completed"]
    assert finals[5].status == "failed" and "surrogate" in output_of(finals[5])
    assert finals[6].status == "failed" and finals[7].status == "completed"
    assert finals[8].status == "failed" and "Unknown tool name" in output_of(finals[8])


async def test_an_editor_buffer_with_lone_surrogates_is_read_as_replacement_characters(tmp_path: Path) -> None:
    outside = Outside(tmp_path / "outside")
    root = tmp_path / "root"
    root.mkdir()
    (root / "buffer.py").write_text("on disk\n")
    client = FsClient("reject_once")
    client.open_buffer(
        root.resolve() / "buffer.py", "pair = '\ud800\udfff'\nflipped = '\udfff\ud800'\nlone = '\udc80'\n"
    )
    result = await run_attack(root.resolve(), [("read_file", {"path": "buffer.py"})], tmp_path / "log", client=client)
    assert_contained(result, outside)
    check_every_call_ended(result, 1)
    final = result.finals()[0]
    assert final.status == "completed"
    # A proper pair (JSON's way to write U+103FF) is kept; lone halves become U+FFFD.
    assert "pair = '\U000103ff'\nflipped = '\ufffd\ufffd'\nlone = '\ufffd'" in output_of(final)
    assert "sent 3 invalid character(s) (lone surrogates)" in output_of(final)
    json.dumps(result.shown, ensure_ascii=False).encode("utf-8")
