"""Compaction: a long scripted conversation in a small context is compacted, and the user is told."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic_ai.messages import ModelRequest, ModelResponse, TextPart, ToolCallPart, ToolReturnPart, UserPromptPart

from punie_acp.config import Settings
from punie_acp.core.compaction import (
    ELIDED_PREFIX,
    SUMMARY_PREFIX,
    context_used,
    elide_tool_outputs,
    estimate_tokens,
    turn_starts,
)
from tests.acp.loopback import loopback, scripted
from tests.support.acp_client import text_prompt

pytestmark = pytest.mark.anyio


def _turn(n: int, output: str) -> list[ModelRequest | ModelResponse]:
    return [
        ModelRequest(parts=[UserPromptPart(f"question {n}")]),
        ModelResponse(parts=[ToolCallPart("read_file", {"path": "big.txt"}, tool_call_id=f"c{n}")]),
        ModelRequest(parts=[ToolReturnPart("read_file", output, tool_call_id=f"c{n}")]),
        ModelResponse(parts=[TextPart(f"answer {n}")]),
    ]


def test_old_tool_outputs_are_elided_but_the_last_turn_is_kept() -> None:
    history = [*_turn(1, "x" * 5000), *_turn(2, "y" * 5000)]
    shorter, count = elide_tool_outputs(history)
    assert count == 1
    assert estimate_tokens(shorter) < estimate_tokens(history) // 2 + 50
    returns = [p for m in shorter for p in m.parts if isinstance(p, ToolReturnPart)]
    assert str(returns[0].content).startswith(ELIDED_PREFIX) and returns[1].content == "y" * 5000
    # Every call keeps its result (the cut never splits a call from its return).
    assert [p.tool_call_id for p in returns] == ["c1", "c2"]
    assert turn_starts(shorter) == [0, 4]


async def test_a_long_conversation_is_compacted_and_the_user_is_told(project: Path) -> None:
    (project / "big.txt").write_text("line of text\n" * 400)  # ~5 KB: over a 1024-token context's budget
    read = [{"call": "read_file", "args": {"path": "big.txt"}}]
    backend = scripted(
        [
            read,
            [{"say": "first answer"}],
            read,
            [{"say": "second answer"}],
            [{"say": "SUMMARY: the user asked twice about big.txt"}],  # the summary compaction asks for
            [{"say": "third answer"}],
        ]
    )
    async with loopback(backend, Settings(log_file="", context_tokens=1024)) as lb:
        sid = await lb.start_session(project)
        for n in range(3):
            lb.client.updates[sid].clear()
            await lb.conn.prompt(session_id=sid, prompt=text_prompt(f"question {n}"))
            if n < 2:
                assert "Context compacted" not in lb.client.message_text(sid)
        told = lb.client.message_text(sid)
        history = lb.core.session(sid).history
    assert "Context compacted" in told and "1 earlier turn summarized" in told
    assert told.endswith("third answer")
    first = history[0]
    assert isinstance(first, ModelRequest)
    summary = first.parts[0]
    assert isinstance(summary, UserPromptPart) and str(summary.content).startswith(SUMMARY_PREFIX)
    assert "SUMMARY: the user asked twice" in str(summary.content)
    # The last full turn before the prompt survived whole, and the new turn followed it.
    prompts = [p.content for m in history for p in m.parts if isinstance(p, UserPromptPart)]
    assert prompts[1:] == ["question 1", "question 2"]


async def test_compact_command_compacts_now_and_says_so(project: Path) -> None:
    backend = scripted([[{"say": "one"}], [{"say": "two"}], [{"say": "SUMMARY of one and two"}]])
    async with loopback(backend) as lb:
        sid = await lb.start_session(project)
        await lb.conn.prompt(session_id=sid, prompt=text_prompt("first"))
        await lb.conn.prompt(session_id=sid, prompt=text_prompt("second"))
        lb.client.updates[sid].clear()
        response = await lb.conn.prompt(session_id=sid, prompt=text_prompt("/compact"))
        history = lb.core.session(sid).history
    assert response.stop_reason == "end_turn"
    assert "Context compacted" in lb.client.message_text(sid)
    assert "SUMMARY of one and two" in str(history[0].parts[0].content)  # type: ignore[union-attr]
    assert lb.client.kinds(sid)[-1] == "usage_update"


async def test_compact_on_a_short_conversation_says_there_is_nothing_to_do(project: Path) -> None:
    async with loopback() as lb:
        sid = await lb.start_session(project)
        await lb.conn.prompt(session_id=sid, prompt=text_prompt("/compact"))
    assert "Nothing to compact yet" in lb.client.message_text(sid)


def test_hostile_text_in_the_history_is_measured_without_json() -> None:
    # Lone surrogates (a model's broken output, an editor's buffer) cannot be JSON-encoded.
    history: list[ModelRequest | ModelResponse] = [
        ModelRequest(parts=[UserPromptPart("q \ud800")]),
        ModelResponse(parts=[ToolCallPart("read_file", {"path": "a\ud800"}, tool_call_id="c1")]),
        ModelRequest(parts=[ToolReturnPart("read_file", {"text": "\udfff" * 500}, tool_call_id="c1")]),
        ModelResponse(parts=[TextPart("done")]),
        ModelRequest(parts=[UserPromptPart("next")]),
    ]
    assert context_used(history) > 0
    shorter, count = elide_tool_outputs(history)
    assert count == 1 and estimate_tokens(shorter) < estimate_tokens(history)
