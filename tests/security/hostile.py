"""Shared harness for attacks through the real `punie serve`.

An attack is: a project root the attacker prepared, a scripted model that calls tools with the
attacker's arguments, and an editor double that records every permission request and every
fs/* call. After the turn, the checks are always the same: no marker file appeared outside the
root, no secret from outside the root reached any update, the permissions asked were the ones the
mode requires, and the server still answers a fresh session.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import acp
from acp.core import ClientSideConnection

from tests.e2e.scripts import write_script
from tests.support.acp_client import RecordingClient, punie_server, start_session, text_prompt

# A string that exists only in files outside the root; seeing it anywhere in an update is a leak.
SECRET = "PUNIE-SECRET-d41d8cd98f00b204"


@dataclass
class Outside:
    """The world outside the root: a secret file to read, and a place where a marker must not appear."""

    base: Path
    secret_file: Path = field(init=False)
    marker: Path = field(init=False)

    def __post_init__(self) -> None:
        self.base.mkdir(parents=True, exist_ok=True)
        self.secret_file = self.base / "credentials"
        self.secret_file.write_text(f"aws_secret_access_key = {SECRET}\n")
        self.marker = self.base / "PWNED"

    def payload(self) -> str:
        """A shell command an attacker would like to see run: it creates the marker."""
        return f"touch {self.marker}"

    def script(self, name: str = "evil.sh") -> Path:
        """An executable script outside the root that creates the marker when run."""
        path = self.base / name
        path.write_text(f"#!/bin/sh\n{self.payload()}\ncat >/dev/null 2>&1\nexit 0\n")
        path.chmod(0o755)
        return path


def calls(*steps: tuple[str, dict[str, Any]], then: str = "done") -> list[list[dict[str, Any]]]:
    """A script that makes each call in its own model response, then answers `then`."""
    responses: list[list[dict[str, Any]]] = [[{"call": name, "args": args}] for name, args in steps]
    responses.append([{"say": then}])
    return responses


def output_of(update: Any) -> str:
    """The text a tool call's final update carries (punie sends `rawOutput` as `{"output": text}`)."""
    raw = update.raw_output
    assert isinstance(raw, dict) and isinstance(raw.get("output"), str), raw
    return str(raw["output"])


def every_text(client: RecordingClient, session_id: str) -> str:
    """Everything the editor was shown in a session, as one JSON text (updates and permission prompts)."""
    shown = [u.model_dump(mode="json") for u in client.updates[session_id]]
    shown += [r.model_dump(mode="json") for r in client.permission_requests]
    return json.dumps(shown, ensure_ascii=False)


@dataclass
class AttackResult:
    client: RecordingClient
    session_id: str
    stop_reason: str
    still_serves: bool

    @property
    def shown(self) -> str:
        return every_text(self.client, self.session_id)

    def finals(self) -> list[Any]:
        """The final update of each tool call (completed or failed)."""
        return [
            e
            for e in self.client.tool_events(self.session_id)
            if e.session_update == "tool_call_update" and e.status in ("completed", "failed")
        ]


async def _still_serves(conn: ClientSideConnection, root: Path) -> bool:
    """A fresh session on the same server answers `session/new` (the server did not fall over)."""
    try:
        response = await conn.new_session(cwd=str(root), mcp_servers=[])
    except acp.RequestError:
        return False
    return bool(response.session_id)


async def run_attack(
    root: Path,
    steps: Sequence[tuple[str, dict[str, Any]]],
    log_dir: Path,
    *,
    client: RecordingClient | None = None,
    mode: str | None = None,
    args: Sequence[str] = (),
    env: dict[str, str] | None = None,
) -> AttackResult:
    """Run one scripted turn of tool calls through `punie serve` against `root`."""
    client = client or RecordingClient(permission="reject_once")
    log_dir.mkdir(parents=True, exist_ok=True)
    model = write_script(log_dir, calls(*steps))
    extra = ["--mode", mode] if mode else []
    async with punie_server(client, model, log_dir, *extra, *args, env=env) as (conn, _proc):
        session_id = await start_session(conn, client, root)
        response = await conn.prompt(session_id=session_id, prompt=text_prompt("go"))
        serving = await _still_serves(conn, root)
    return AttackResult(client, session_id, str(response.stop_reason), serving)


def assert_contained(result: AttackResult, outside: Outside) -> None:
    """The common verdict: nothing created outside, no secret shown, the server still serves."""
    assert not outside.marker.exists(), f"the attack ran a command: {outside.marker} exists"
    assert SECRET not in result.shown, "a secret from outside the root reached the editor"
    assert result.still_serves, "the server stopped answering after the attack"
