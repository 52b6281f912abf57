"""`run_command` through the real turn runner: permission, local and editor-terminal paths."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import anyio
import pytest

from punie_acp.config import Settings
from punie_acp.core.events import TerminalContent, ToolFinished, ToolStarted
from punie_acp.core.host import PermissionOutcome, PermissionRequest
from punie_acp.tools.commands import clamp_timeout, fenced
from tests.support.terminals import RecordingHost, TerminalHost, alive, pids_in
from tests.tools.command_harness import ToolRun, run_tool, until

pytestmark = pytest.mark.anyio

TREE = "echo $$ > pids; sleep 1000 & echo $! >> pids; echo ready; wait"


async def gone(pids: list[int]) -> None:
    with anyio.fail_after(30):  # a failure guard
        while any(alive(p) for p in pids):
            await anyio.sleep(0.02)


async def test_output_and_exit_code(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("x")
    run = await run_tool(tmp_path, "run_command", {"command": "ls; echo to-stderr >&2"})
    assert run.ok
    assert run.text == "a.txt\nto-stderr\n[exit code 0]"


async def test_runs_in_the_project_root_with_bash(tmp_path: Path) -> None:
    run = await run_tool(tmp_path, "run_command", {"command": "pwd; echo ${BASH_VERSION:+bash}"})
    assert run.text.splitlines()[:2] == [str(tmp_path.resolve()), "bash"]


async def test_failing_exit_fails_the_call_with_output(tmp_path: Path) -> None:
    run = await run_tool(tmp_path, "run_command", {"command": "echo oops; exit 7"})
    assert not run.ok
    assert run.text == "oops\n[exit code 7]"


async def test_asks_permission_with_the_command(tmp_path: Path) -> None:
    host = RecordingHost("allow_once")
    await run_tool(tmp_path, "run_command", {"command": "true"}, host=host)
    [request] = host.permission_requests
    assert request.kind == "execute"
    assert request.title == "Run `true`"
    assert request.raw_input["command"] == "true"
    assert request.raw_input["cwd"] == str(tmp_path.resolve())


@pytest.mark.parametrize("outcome", ["reject_once", "reject_always"])
async def test_rejected_command_never_runs(tmp_path: Path, outcome: str) -> None:
    host = RecordingHost(outcome)  # type: ignore[arg-type]
    run = await run_tool(tmp_path, "run_command", {"command": "touch marker"}, host=host)
    assert not run.ok
    assert "rejected" in run.text and "not done" in run.text
    assert not (tmp_path / "marker").exists()
    assert len(host.permission_requests) == 1
    assert run.ended is not None and run.ended.stop_reason == "end_turn"  # the model hears it and goes on
    assert not any(p.started for p in run.progress)  # never in progress: it never ran


@pytest.mark.parametrize("tool", ["run_command", "run_pytest"])
async def test_cancelled_prompt_ends_the_turn(tmp_path: Path, tool: str) -> None:
    host = RecordingHost("cancelled")
    args = {"command": "touch marker"} if tool == "run_command" else {"path": "."}
    run = await run_tool(tmp_path, tool, args, host=host)
    assert run.ended is not None and run.ended.stop_reason == "cancelled"
    assert not run.ok and "cancelled" in run.text
    assert len([e for e in run.events if isinstance(e, ToolFinished)]) == 1  # finished once, by the turn runner
    assert not (tmp_path / "marker").exists()
    assert len(host.permission_requests) == 1
    assert not any(p.started for p in run.progress)


class EventsAtPrompt(RecordingHost):
    """Notes, at each permission prompt, whether the call had already been reported started."""

    def __init__(self, policy: PermissionOutcome) -> None:
        super().__init__(policy)
        self.run: ToolRun | None = None
        self.started_before_prompt: list[bool] = []

    async def request_permission(self, request: PermissionRequest) -> PermissionOutcome:
        assert self.run is not None
        self.started_before_prompt.append(any(p.started for p in self.run.progress))
        return await super().request_permission(request)


@pytest.mark.parametrize(("tool", "args"), [("run_command", {"command": "true"}), ("run_pytest", {"path": "."})])
async def test_started_only_after_the_grant_and_the_prompt_reuses_the_call_title(
    tmp_path: Path, tool: str, args: dict[str, Any]
) -> None:
    host = EventsAtPrompt("allow_once")

    async def watch(run: ToolRun, cancel: Callable[[], None]) -> None:
        host.run = run

    run = await run_tool(tmp_path, tool, args, host=host, watch=watch)
    assert host.started_before_prompt == [False]
    assert len([p for p in run.progress if p.started]) == 1
    [request] = host.permission_requests
    started = next(e for e in run.events if isinstance(e, ToolStarted))
    assert (request.title, request.call_id) == (started.title, started.call_id)


async def test_a_tool_that_does_not_ask_is_started_at_once(tmp_path: Path) -> None:
    run = await run_tool(tmp_path, "list_files", {})
    assert run.ok
    assert [type(e).__name__ for e in run.events][:2] == ["ToolStarted", "ToolProgress"]
    assert run.progress[0].started


async def test_read_only_mode_refuses_without_asking(tmp_path: Path) -> None:
    host = RecordingHost("allow_once")
    run = await run_tool(tmp_path, "run_command", {"command": "touch marker"}, host=host, mode="read-only")
    assert not run.ok
    assert "Read-only mode" in run.text
    assert not (tmp_path / "marker").exists()
    assert host.permission_requests == []


async def test_timeout_kills_the_process_tree(tmp_path: Path) -> None:
    run = await run_tool(tmp_path, "run_command", {"command": TREE, "timeout": 1})
    assert not run.ok
    assert "ready" in run.text
    assert "timed out after 1 s" in run.text
    pids = pids_in(tmp_path / "pids")
    assert len(pids) == 2
    await gone(pids)


async def test_default_timeout_comes_from_settings(tmp_path: Path) -> None:
    run = await run_tool(tmp_path, "run_command", {"command": TREE}, settings=Settings(command_timeout=1.0))
    assert "timed out after 1 s" in run.text
    await gone(pids_in(tmp_path / "pids"))


def test_timeout_is_clamped() -> None:
    assert clamp_timeout(None, 120) == 120
    assert clamp_timeout(0.001, 120) == 1.0
    assert clamp_timeout(-5, 120) == 120
    assert clamp_timeout(10**9, 120) == 3600


async def test_cancelling_the_turn_kills_the_process_tree(tmp_path: Path) -> None:
    pid_file = tmp_path / "pids"

    async def watch(run: ToolRun, cancel: Callable[[], None]) -> None:
        await until(lambda: len(pids_in(pid_file)) == 2 and any("ready" in t for t in run.live_texts()))
        cancel()

    run = await run_tool(tmp_path, "run_command", {"command": TREE}, watch=watch)
    assert run.cancelled
    assert not any(isinstance(e, ToolFinished) for e in run.events)
    await gone(pids_in(pid_file))


async def test_output_streams_into_one_live_block_before_the_end(tmp_path: Path) -> None:
    """The command only finishes once the test has seen its first line live."""

    async def watch(run: ToolRun, cancel: Callable[[], None]) -> None:
        await until(lambda: any("first" in t for t in run.live_texts()))
        (tmp_path / "go").touch()

    script = "echo first; while [ ! -e go ]; do sleep 0.05; done; echo second"
    run = await run_tool(tmp_path, "run_command", {"command": script}, watch=watch)
    assert run.ok and run.text == "first\nsecond\n[exit code 0]"
    assert run.live_texts()[0] == fenced("first\n")
    # ACP replaces content on each update: the live block is replaced, never piled up.
    progress = [u for u in run.updates if u.session_update == "tool_call_update" and u.content is not None]
    assert progress and all(len(u.content) <= 1 for u in progress)
    final = run.updates[-2]  # the tool's last update; the model's "done" follows
    assert final.status == "completed"
    assert [c.content.text for c in final.content] == [run.text]


async def test_long_output_is_capped_with_a_note(tmp_path: Path) -> None:
    script = "i=0; while [ $i -lt 20000 ]; do echo line $i; i=$((i+1)); done"
    run = await run_tool(tmp_path, "run_command", {"command": script})
    assert run.ok
    assert run.text.startswith("line 0\nline 1\n")
    assert run.text.endswith("line 19999\n[exit code 0]")
    assert "cut from the middle" in run.text
    assert len(run.text) < 20_000


# --- the editor's terminal ------------------------------------------------------------


async def test_editor_terminal_runs_the_command_and_is_embedded(tmp_path: Path) -> None:
    host = TerminalHost()
    run = await run_tool(tmp_path, "run_command", {"command": "echo in-terminal; touch marker"}, host=host)
    assert run.ok
    assert run.text == "in-terminal\n[exit code 0]"
    assert (tmp_path / "marker").exists()
    [spec] = host.specs
    assert spec.cwd == tmp_path.resolve()
    assert spec.args[-1] == "echo in-terminal; touch marker"
    terminal_ids = [c.terminal_id for p in run.progress for c in p.content if isinstance(c, TerminalContent)]
    assert terminal_ids == ["term-1"]
    assert host.terminals.methods("term-1") == ["create", "wait_for_exit", "output", "release"]
    final = run.updates[-2]
    assert [c.type for c in final.content] == ["terminal", "content"]


async def test_editor_terminal_failure_and_rejection(tmp_path: Path) -> None:
    host = TerminalHost()
    run = await run_tool(tmp_path, "run_command", {"command": "echo bad; exit 3"}, host=host)
    assert not run.ok and run.text == "bad\n[exit code 3]"
    rejecting = TerminalHost("reject_once")
    run = await run_tool(tmp_path, "run_command", {"command": "touch marker"}, host=rejecting)
    assert not run.ok and not (tmp_path / "marker").exists()
    assert rejecting.terminals.calls == []


async def test_editor_terminal_timeout_kills_and_releases(tmp_path: Path) -> None:
    host = TerminalHost()
    run = await run_tool(tmp_path, "run_command", {"command": TREE, "timeout": 1}, host=host)
    assert not run.ok and "timed out after 1 s" in run.text and "ready" in run.text
    methods = host.terminals.methods("term-1")
    assert methods[-1] == "release" and "kill" in methods
    await gone(pids_in(tmp_path / "pids"))


async def test_editor_terminal_cancel_kills_then_releases(tmp_path: Path) -> None:
    host = TerminalHost()
    pid_file = tmp_path / "pids"

    async def watch(run: ToolRun, cancel: Callable[[], None]) -> None:
        await until(lambda: len(pids_in(pid_file)) == 2)
        cancel()

    run = await run_tool(tmp_path, "run_command", {"command": TREE}, host=host, watch=watch)
    assert run.cancelled
    assert host.terminals.methods("term-1") == ["create", "wait_for_exit", "kill", "release"]
    await gone(pids_in(pid_file))
