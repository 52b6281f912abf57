"""Patterns that make a backtracking engine run for hours, through the real `punie serve`.

Before: grep compiled the model's pattern with `re`, which holds the GIL while it backtracks,
so `(a|a)+$` over a line of 40 `a`s and a `!` froze the whole server (no other request was
answered, `session/cancel` did nothing). A hostile `.gitignore` did the same through
pathspec, and a model's glob through fnmatch on the event loop. Now matching runs on `regex`
with a time budget and the GIL released: the call fails with a message, the server keeps
answering, and a cancel ends the turn. Every wait has a generous failure timeout; nothing here
asserts how long anything took.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import anyio
import pytest

from tests.e2e.scripts import write_script
from tests.security.hostile import Outside, assert_contained, calls, output_of, run_attack
from tests.support.acp_client import RecordingClient, punie_server, start_session, text_prompt

pytestmark = pytest.mark.anyio

CATASTROPHIC = "(a|a)+$"  # exponential in `re` and in `regex` alike
EVIL_LINE = "a" * 40 + "!\n"
GUARD = 120  # seconds: a failure guard, never a timing assertion


def root_with(tmp_path: Path, files: dict[str, str]) -> Path:
    root = tmp_path / "root"
    root.mkdir()
    for name, text in files.items():
        (root / name).write_text(text)
    return root.resolve()


async def test_a_catastrophic_grep_fails_the_call_and_the_server_goes_on(tmp_path: Path) -> None:
    outside = Outside(tmp_path / "outside")
    root = root_with(tmp_path, {"evil.txt": EVIL_LINE * 3, "ok.py": "def ok(): pass\n"})
    steps: list[tuple[str, dict[str, Any]]] = [
        ("grep", {"pattern": CATASTROPHIC}),
        ("grep", {"pattern": r"def \w+\(", "glob": "*.py"}),  # normal patterns still work
    ]
    with anyio.fail_after(GUARD):
        result = await run_attack(root, steps, tmp_path / "log")
    assert_contained(result, outside)
    assert result.stop_reason == "end_turn"
    slow, normal = result.finals()
    assert slow.status == "failed"
    assert "backtracks catastrophically" in output_of(slow) and "evil.txt:1" in output_of(slow)
    assert normal.status == "completed" and output_of(normal) == "ok.py:1: def ok(): pass"


async def test_patterns_that_blow_up_when_compiled_or_are_huge_are_refused(tmp_path: Path) -> None:
    outside = Outside(tmp_path / "outside")
    root = root_with(tmp_path, {"a.txt": "a\n"})
    steps: list[tuple[str, dict[str, Any]]] = [
        ("grep", {"pattern": "(?:(?:(?:a{100}){100}){100}){10}"}),  # `regex` would unroll 10^7 atoms
        ("grep", {"pattern": "a" * 5000}),
        ("grep", {"pattern": "(unclosed"}),
        ("list_files", {"pattern": "[a" * 20000}),  # fnmatch: ~40 s of compiling, GIL held
        ("grep", {"pattern": "a", "glob": "[a" * 20000}),
    ]
    with anyio.fail_after(GUARD):
        result = await run_attack(root, steps, tmp_path / "log")
    assert_contained(result, outside)
    assert result.stop_reason == "end_turn"
    outputs = [(f.status, output_of(f)) for f in result.finals()]
    assert [status for status, _ in outputs] == ["failed"] * 5
    assert "counted repetitions" in outputs[0][1]
    assert "at most 1000" in outputs[1][1]
    assert "invalid regular expression" in outputs[2][1]
    assert "the glob is 40000 characters long" in outputs[3][1]
    assert "the glob is 40000 characters long" in outputs[4][1]


async def test_a_hostile_gitignore_pattern_does_not_freeze_the_listing(tmp_path: Path) -> None:
    outside = Outside(tmp_path / "outside")
    # pathspec turns this into a[^/]*a[^/]*…b: with `re`, hours of backtracking per long name.
    root = root_with(tmp_path, {".gitignore": "*.log\n" + "a*" * 14 + "b\n", "a" * 200: "x\n", "x.log": ""})
    with anyio.fail_after(GUARD):
        result = await run_attack(root, [("list_files", {}), ("grep", {"pattern": "x"})], tmp_path / "log")
    assert_contained(result, outside)
    listed, grep = result.finals()
    assert listed.status == "completed"
    assert output_of(listed).splitlines() == [".gitignore", "a" * 200]  # the rule itself still applies
    assert grep.status == "completed" and output_of(grep) == "a" * 200 + ":1: x"


async def test_cancel_stops_a_catastrophic_grep_and_other_sessions_are_answered_meanwhile(tmp_path: Path) -> None:
    files = {f"evil{n}.txt": EVIL_LINE * 20 for n in range(6)}
    root = root_with(tmp_path, files)
    log_dir = tmp_path / "log"
    log_dir.mkdir()
    # One slow grep after another: whichever is running when the cancel lands, the turn is cancelled.
    model = write_script(log_dir, calls(*[("grep", {"pattern": CATASTROPHIC, "path": name}) for name in files]))
    client = RecordingClient("reject_once")

    def grep_running(updates: list[Any]) -> bool:
        return any(u.session_update == "tool_call_update" and u.status == "in_progress" for u in updates)

    async with punie_server(client, model, log_dir) as (conn, _proc):
        busy = await start_session(conn, client, root)
        turn = asyncio.create_task(conn.prompt(session_id=busy, prompt=text_prompt("grep")))
        await client.wait_for(busy, grep_running, timeout=GUARD)
        with anyio.fail_after(GUARD):  # frozen server: these never come back
            again = await conn.initialize(protocol_version=1)
            other = await conn.new_session(cwd=str(root), mcp_servers=[])
        assert again.protocol_version == 1 and other.session_id
        assert not turn.done()
        await conn.cancel(session_id=busy)
        with anyio.fail_after(GUARD):
            response = await turn
        assert response.stop_reason == "cancelled"
        with anyio.fail_after(GUARD):  # and it still serves after the cancel
            assert (await conn.new_session(cwd=str(root), mcp_servers=[])).session_id
