"""Commands and checks through the real `punie serve`, with and without editor terminals."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from acp import schema

from tests.e2e.scripts import write_script
from tests.support.acp_client import RecordingClient, punie_server, start_session, text_prompt
from tests.support.terminal_client import TerminalClient
from tests.support.terminals import alive, pids_in

pytestmark = pytest.mark.anyio

TREE = "echo $$ > pids; sleep 1000 & echo $! >> pids; echo ready; wait"
WAITS_FOR_GO = "echo first; while [ ! -e go ]; do sleep 0.05; done; echo second"


def one_call(tmp_path: Path, name: str, args: dict[str, Any]) -> str:
    return write_script(tmp_path, [[{"call": name, "args": args}], [{"say": "done"}]])


def content_types(update: Any) -> list[str]:
    return [c.type for c in update.content or []]


def is_update(update: Any) -> bool:
    return bool(update.session_update == "tool_call_update")


def texts(update: Any) -> list[str]:
    return [c.content.text for c in update.content or [] if c.type == "content"]


async def until(condition: Any, guard: float = 30.0) -> None:
    async def loop() -> None:
        while not condition():
            await asyncio.sleep(0.02)

    await asyncio.wait_for(loop(), guard)


async def test_editor_terminal_runs_the_command(tmp_path: Path, project: Path) -> None:
    client = TerminalClient()
    model = one_call(tmp_path, "run_command", {"command": "echo from-editor; touch marker"})
    async with punie_server(client, model, tmp_path) as (conn, _):
        sid = await start_session(conn, client, project)
        resp = await conn.prompt(session_id=sid, prompt=text_prompt("run it"))
    assert resp.stop_reason == "end_turn"
    assert (project / "marker").exists()
    [create] = client.create_requests
    assert create["cwd"] == str(project.resolve())
    assert create["args"][-1] == "echo from-editor; touch marker"
    assert client.terminals.methods("term-1") == ["create", "wait_for_exit", "output", "release"]
    events = client.tool_events(sid)
    assert events[0].kind == "execute"
    embedded = [e for e in events if "terminal" in content_types(e)]
    assert embedded and embedded[0].content[0].terminal_id == "term-1"
    final = events[-1]
    assert final.status == "completed"
    assert final.raw_output["output"] == "from-editor\n[exit code 0]"
    assert content_types(final) == ["terminal", "content"]  # the terminal stays in the card
    [asked] = client.permission_requests
    assert asked.kind == "execute" and asked.raw_input is not None
    assert asked.raw_input["command"] == "echo from-editor; touch marker"


async def test_editor_terminal_cancel_kills_then_releases(tmp_path: Path, project: Path) -> None:
    client = TerminalClient()
    async with punie_server(client, one_call(tmp_path, "run_command", {"command": TREE}), tmp_path) as (conn, _):
        sid = await start_session(conn, client, project)
        prompt = asyncio.create_task(conn.prompt(session_id=sid, prompt=text_prompt("run it")))
        await until(lambda: len(pids_in(project / "pids")) == 2)
        await conn.cancel(session_id=sid)
        resp = await asyncio.wait_for(prompt, 60)
        assert resp.stop_reason == "cancelled"
        await until(lambda: "release" in client.terminals.methods("term-1"))
    assert client.terminals.methods("term-1")[-2:] == ["kill", "release"]
    pids = pids_in(project / "pids")
    await until(lambda: not any(alive(p) for p in pids))


async def test_local_fallback_streams_output_before_the_end(tmp_path: Path, project: Path) -> None:
    client = RecordingClient()  # no terminal capability
    model = one_call(tmp_path, "run_command", {"command": WAITS_FOR_GO})
    async with punie_server(client, model, tmp_path) as (conn, _):
        sid = await start_session(conn, client, project)
        prompt = asyncio.create_task(conn.prompt(session_id=sid, prompt=text_prompt("run it")))
        # The command only ends after the client has seen its first line streamed.
        await client.wait_for(sid, lambda ups: any("first" in t for u in ups if is_update(u) for t in texts(u)))
        (project / "go").touch()
        resp = await asyncio.wait_for(prompt, 60)
    assert resp.stop_reason == "end_turn"
    events = client.tool_events(sid)
    final = events[-1]
    assert final.status == "completed" and final.raw_output["output"] == "first\nsecond\n[exit code 0]"
    live = [e for e in events[:-1] if e.content is not None]
    assert live and all(len(e.content) <= 1 for e in live)  # one live block, replaced, not piled up
    assert texts(live[0]) == ["```\nfirst\n```"]
    assert texts(final) == [final.raw_output["output"]]


async def test_local_fallback_cancel_kills_the_process_tree(tmp_path: Path, project: Path) -> None:
    client = RecordingClient()
    async with punie_server(client, one_call(tmp_path, "run_command", {"command": TREE}), tmp_path) as (conn, _):
        sid = await start_session(conn, client, project)
        prompt = asyncio.create_task(conn.prompt(session_id=sid, prompt=text_prompt("run it")))
        await until(lambda: len(pids_in(project / "pids")) == 2)
        await conn.cancel(session_id=sid)
        resp = await asyncio.wait_for(prompt, 60)
        assert resp.stop_reason == "cancelled"
        pids = pids_in(project / "pids")
        await until(lambda: not any(alive(p) for p in pids))
        # Still serving afterwards.
        again = await conn.prompt(session_id=sid, prompt=text_prompt("hello"))
        assert again.stop_reason == "end_turn"


@pytest.mark.parametrize("client_class", [RecordingClient, TerminalClient])
async def test_rejected_command_never_runs(tmp_path: Path, project: Path, client_class: type[RecordingClient]) -> None:
    client = client_class("reject_once")
    model = one_call(tmp_path, "run_command", {"command": "touch marker"})
    async with punie_server(client, model, tmp_path) as (conn, _):
        sid = await start_session(conn, client, project)
        resp = await conn.prompt(session_id=sid, prompt=text_prompt("run it"))
    assert resp.stop_reason == "end_turn"
    assert not (project / "marker").exists()
    assert len(client.permission_requests) == 1
    final = client.tool_events(sid)[-1]
    assert final.status == "failed" and "not done" in final.raw_output["output"]
    if isinstance(client, TerminalClient):
        assert client.terminals.calls == []


async def test_ruff_check_reports_locations_to_the_editor(tmp_path: Path, project: Path) -> None:
    (project / "calc.py").write_text("import os\n\n\ndef f() -> int:\n    return 1\n")
    client = RecordingClient("reject_once")  # a read-only check asks nothing
    async with punie_server(client, one_call(tmp_path, "ruff_check", {"path": "calc.py"}), tmp_path) as (conn, _):
        sid = await start_session(conn, client, project)
        resp = await conn.prompt(session_id=sid, prompt=text_prompt("lint"))
    assert resp.stop_reason == "end_turn"
    assert client.permission_requests == []
    events = client.tool_events(sid)
    located = [(loc.path, loc.line) for e in events for loc in e.locations or []]
    assert (str(project.resolve() / "calc.py"), 1) in located
    final = events[-1]
    assert final.status == "completed"
    assert "calc.py:1:8: F401" in final.raw_output["output"]


class OrderedClient(RecordingClient):
    """Records updates and permission prompts in one list, in the order the editor saw them."""

    def __init__(self, permission: str = "allow_once") -> None:
        super().__init__(permission)
        self.seen: list[tuple[str, Any]] = []

    async def session_update(self, session_id: str, update: Any, **kwargs: Any) -> None:
        self.seen.append(("update", update))
        await super().session_update(session_id, update, **kwargs)

    async def request_permission(
        self, session_id: str, tool_call: schema.ToolCallUpdate, options: list[schema.PermissionOption], **kwargs: Any
    ) -> schema.RequestPermissionResponse:
        self.seen.append(("permission", tool_call))
        return await super().request_permission(session_id, tool_call, options, **kwargs)

    def statuses(self) -> list[str]:
        """The tool call's life as the editor saw it: its statuses, with the prompt in its place."""
        steps: list[str] = []
        for what, item in self.seen:
            if what == "permission":
                steps.append("permission")
            elif item.session_update == "tool_call" or (
                item.session_update == "tool_call_update" and item.status is not None
            ):
                steps.append(item.status)
        return steps


CANCELLED_CALLS = [
    ("run_command", {"command": "touch marker"}),
    ("run_pytest", {"path": "."}),
    ("write_file", {"path": "marker", "content": "x"}),
]


@pytest.mark.parametrize(("tool", "args"), CANCELLED_CALLS)
async def test_a_cancelled_prompt_ends_the_turn_and_asks_nothing_more(
    tmp_path: Path, project: Path, tool: str, args: dict[str, Any]
) -> None:
    client = OrderedClient("cancelled")
    # The model would go on to try again; after a cancelled prompt it must not get the chance.
    model = write_script(tmp_path, [[{"call": tool, "args": args}], [{"call": tool, "args": args}], [{"say": "x"}]])
    async with punie_server(client, model, tmp_path) as (conn, _):
        sid = await start_session(conn, client, project)
        resp = await conn.prompt(session_id=sid, prompt=text_prompt("go"))
    assert resp.stop_reason == "cancelled"
    assert len(client.permission_requests) == 1
    assert client.statuses() == ["pending", "permission", "failed"]  # never in progress
    assert not (project / "marker").exists()
    assert client.message_text(sid) == ""


@pytest.mark.parametrize(
    ("tool", "args"),
    [
        ("run_command", {"command": "echo hi"}),
        ("run_pytest", {"path": "hello.py"}),
        ("write_file", {"path": "new.txt", "content": "x"}),
        ("edit_file", {"path": "hello.py", "old_text": "42", "new_text": "43"}),
    ],
)
async def test_in_progress_comes_after_the_grant_and_the_prompt_has_the_call_title(
    tmp_path: Path, project: Path, tool: str, args: dict[str, Any]
) -> None:
    client = OrderedClient("allow_once")
    async with punie_server(client, one_call(tmp_path, tool, args), tmp_path) as (conn, _):
        sid = await start_session(conn, client, project)
        resp = await conn.prompt(session_id=sid, prompt=text_prompt("go"))
    assert resp.stop_reason == "end_turn"
    assert client.statuses() == ["pending", "permission", "in_progress", "completed"]
    [asked] = client.permission_requests
    [start] = [e for e in client.tool_events(sid) if e.session_update == "tool_call"]
    assert asked.title == start.title and asked.tool_call_id == start.tool_call_id


async def test_a_tool_that_asks_nothing_goes_in_progress_at_once(tmp_path: Path, project: Path) -> None:
    client = OrderedClient("cancelled")
    async with punie_server(client, one_call(tmp_path, "read_file", {"path": "hello.py"}), tmp_path) as (conn, _):
        sid = await start_session(conn, client, project)
        resp = await conn.prompt(session_id=sid, prompt=text_prompt("go"))
    assert resp.stop_reason == "end_turn"
    assert client.statuses() == ["pending", "in_progress", "completed"]
