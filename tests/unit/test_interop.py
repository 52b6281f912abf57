from __future__ import annotations

from pathlib import Path
from typing import Any

from punie_acp.acp.interop import conform
from punie_acp.acp.updates import UpdateMapper
from punie_acp.core.events import DiffContent, ToolFinished, ToolStarted


def _update(tool_call: dict[str, Any]) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "method": "session/update", "params": {"sessionId": "s", "update": tool_call}}


def test_diffs_get_an_explicit_null_old_text_and_raw_values_become_objects() -> None:
    diff = {"type": "diff", "path": "/p/new.py", "newText": "x"}
    edit = {"type": "diff", "path": "/p/old.py", "newText": "y", "oldText": ""}
    asked = {
        "jsonrpc": "2.0",
        "id": 0,
        "method": "session/request_permission",
        "params": {"toolCall": {"toolCallId": "c", "content": [diff, edit], "rawInput": "ls -la"}, "options": []},
    }
    fixed = conform(asked)["params"]["toolCall"]
    assert fixed["content"] == [{**diff, "oldText": None}, edit]  # an existing empty file keeps ""
    assert fixed["rawInput"] == {"input": "ls -la"}
    update = conform(_update({"sessionUpdate": "tool_call_update", "toolCallId": "c", "rawOutput": [1, 2]}))
    assert update["params"]["update"]["rawOutput"] == {"output": [1, 2]}
    assert "oldText" not in diff  # the SDK's dict is not changed under it


def test_messages_that_need_nothing_are_left_alone() -> None:
    fine = _update({"sessionUpdate": "tool_call_update", "toolCallId": "c", "rawOutput": {"output": "ok"}})
    assert conform(fine) is fine
    chunk = _update({"sessionUpdate": "agent_message_chunk", "content": {"type": "text", "text": "hi"}})
    assert conform(chunk) is chunk
    answer = {"jsonrpc": "2.0", "id": 3, "result": {"rawOutput": "not a tool call"}}
    assert conform(answer) is answer


def test_the_mapper_sends_raw_values_as_objects() -> None:
    mapper = UpdateMapper()
    started = mapper.map(ToolStarted("c", "run", "execute", "Run", raw_input="echo hi"))
    finished = mapper.map(
        ToolFinished("c", ok=True, raw_output="hi\n", content=(DiffContent(Path("/p/a"), None, "x"),))
    )
    assert started is not None and started.raw_input == {"input": "echo hi"}
    assert finished is not None and finished.raw_output == {"output": "hi\n"}
