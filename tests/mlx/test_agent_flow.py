"""A real Agent on fabricated models through the whole mlx path: streaming, tool calls, stops."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic_ai.messages import ModelRequest, PartStartEvent, TextPart, ThinkingPart, ToolReturnPart

from tests.mlx.agents import Tools, make_agent, stream_run
from tests.mlx.conftest import ANSWER, DIRECT, JSON_FIRST, THINKING, TOOL_CALL, XML_FIRST, MakeBackend

pytestmark = pytest.mark.anyio


async def test_reasoning_then_json_tool_call(model_dirs: dict[str, Path], make_backend: MakeBackend) -> None:
    backend = await make_backend(model_dirs["json"])
    tools = Tools()
    run = await stream_run(make_agent(backend, "s1", tools), "What do my notes say?")

    assert run.text(ThinkingPart) == THINKING.strip()
    [call] = run.calls()
    assert call.part.tool_name == "read_file" and call.part.args_as_dict() == {"path": "notes.txt"}
    assert tools.calls == [{"path": "notes.txt", "limit": 0}]
    kinds = run.kinds()
    assert kinds.index("thinking") < kinds.index("call") < kinds.index("text")
    assert run.result.output == "".join(ANSWER)
    assert "<tool_call>" not in run.result.output and "<think>" not in run.text(ThinkingPart)

    first, second = run.responses()
    assert (first.finish_reason, second.finish_reason) == ("tool_call", "stop")
    # Real token counts: one token per script piece, plus the <|im_end|> that ended the reply.
    assert first.usage.output_tokens == len(JSON_FIRST.pieces) + 1
    assert second.usage.output_tokens == len(ANSWER) + 1
    assert first.usage.input_tokens > 100  # system prompt with the tool schema, rendered by the template


async def test_qwen3_coder_xml_tool_call(model_dirs: dict[str, Path], make_backend: MakeBackend) -> None:
    backend = await make_backend(model_dirs["xml"])
    tools = Tools()
    run = await stream_run(make_agent(backend, "s1", tools), "Show me the notes")

    assert tools.calls == [{"path": "notes.txt", "limit": 3}]  # "3" converted with the tool's schema
    assert run.kinds()[:2] == ["text", "call"]
    assert run.responses()[0].parts[0].content == XML_FIRST.pieces[0].strip()  # type: ignore[union-attr]
    assert run.result.output == "".join(ANSWER)


async def test_direct_answer_streams_as_tokens_come(model_dirs: dict[str, Path], make_backend: MakeBackend) -> None:
    backend = await make_backend(model_dirs["direct"])
    run = await stream_run(make_agent(backend, "s1", Tools()), "hi")

    assert run.result.output == DIRECT.text
    kinds = run.kinds()
    assert kinds == ["text"] * len(kinds) and 1 <= len(kinds) <= len(DIRECT.pieces)  # a few tokens a delta
    first = next(e.part for e in run.events if isinstance(e, PartStartEvent) and isinstance(e.part, TextPart))
    assert first.content == DIRECT.pieces[0]  # the first token is never held back
    [response] = run.responses()
    assert response.finish_reason == "stop"
    assert response.usage.output_tokens == len(DIRECT.pieces) + 1


async def test_never_ending_reply_is_stopped_by_the_repetition_guard(
    model_dirs: dict[str, Path], make_backend: MakeBackend
) -> None:
    backend = await make_backend(model_dirs["looping"], max_tokens=4000)
    run = await stream_run(make_agent(backend, "s1"), "talk")

    [response] = run.responses()
    assert response.finish_reason == "length"
    assert response.usage.output_tokens < 400  # ended by the guard, long before max_tokens
    assert backend.engine.history[-1].finish == "repetition"
    assert run.result.output.startswith("again and again and")


async def test_max_tokens_from_model_settings_ends_with_length(
    model_dirs: dict[str, Path], make_backend: MakeBackend
) -> None:
    backend = await make_backend(model_dirs["direct"])
    run = await stream_run(make_agent(backend, "s1"), "hi", model_settings={"max_tokens": 3})

    [response] = run.responses()
    assert response.finish_reason == "length"
    assert response.usage.output_tokens == 3
    assert run.result.output == "".join(DIRECT.pieces[:3])


async def test_reply_never_runs_on_into_an_invented_message(
    model_dirs: dict[str, Path], make_backend: MakeBackend
) -> None:
    backend = await make_backend(model_dirs["runs_on"])
    run = await stream_run(make_agent(backend, "s1"), "are you done?")

    assert run.result.output == "Done."
    assert run.responses()[0].finish_reason == "stop"
    assert backend.engine.history[-1].generated_tokens == 3  # "Done", ".", then <|im_start|> stops it


async def test_unparseable_tool_call_goes_back_to_the_model_as_a_retry(
    model_dirs: dict[str, Path], make_backend: MakeBackend
) -> None:
    backend = await make_backend(model_dirs["broken"])
    tools = Tools()
    run = await stream_run(make_agent(backend, "s1", tools), "read my notes")

    assert tools.calls == []  # the broken call never ran
    retries = [
        part
        for message in run.result.all_messages()
        if isinstance(message, ModelRequest)
        for part in message.parts
        if isinstance(part, ToolReturnPart) and part.outcome == "retried"
    ]
    assert [p.tool_name for p in retries] == ["read_file"]
    assert "Invalid JSON" in retries[0].model_response_str()
    assert run.result.output == "".join(ANSWER)  # the model saw the error and went on


async def test_tool_call_cut_off_by_max_tokens_ends_the_turn(
    model_dirs: dict[str, Path], make_backend: MakeBackend
) -> None:
    backend = await make_backend(model_dirs["json"])
    tools = Tools()
    run = await stream_run(make_agent(backend, "s1", tools), "read it", model_settings={"max_tokens": 6})
    assert tools.calls == []  # never run, nor retried: the same limit would cut it again
    [response] = run.responses()
    assert response.finish_reason == "length"  # the core's stop reason max_tokens
    assert run.result.output == "<tool_call>" + TOOL_CALL.rstrip()
