"""One saved session's model history as one training example in mlx-lm's chat format.

`{"messages": [...], "tools": [...]}`: system (the instructions the model had), user, assistant
(text, `reasoning_content` for its thinking, `tool_calls` with the arguments as an object) and
`tool` messages holding the real results. Tool calls are kept structured, not as text: the model's
own chat template renders them in its own format (`<tool_call>` JSON for Qwen3, `<function=…>`
XML for Qwen3-Coder), exactly as at inference time.

A session is skipped rather than exported with made-up parts when a tool call has no result
(cancelled mid-turn), when results were shortened to save context, or when a call could not be
parsed: placeholder or broken examples teach a model to loop.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic_ai.messages import (
    ModelMessage,
    ModelRequest,
    ModelResponse,
    RetryPromptPart,
    SystemPromptPart,
    TextPart,
    ThinkingPart,
    ToolCallPart,
    ToolReturnPart,
    UserPromptPart,
)

from punie_acp.core.compaction import ELIDED_PREFIX
from punie_acp.models.toolcalls import INVALID_TOOL_NAME

Message = dict[str, Any]

# Why a session was left out, as a person reads it in the summary line.
MISSING_RESULTS = "a tool call without its result"
SHORTENED_RESULTS = "tool results shortened to save context"
BROKEN_CALL = "a tool call that could not be parsed"
NO_REPLY = "no model reply"
NOT_UNICODE = "text that is not valid Unicode (a lone surrogate)"


class Skip(Exception):
    """The session cannot be a faithful example; `reason` is one of the constants above."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass
class Example:
    messages: list[Message]
    called: list[str] = field(default_factory=list)  # tool names, in the order called


def to_example(history: Sequence[ModelMessage]) -> Example:
    """The chat example for a history; raises `Skip` when it cannot be exported faithfully."""
    example = Example([])
    open_calls: set[str] = set()
    for message in history:
        if isinstance(message, ModelRequest):
            _request(message, example, open_calls)
        else:
            if open_calls:
                raise Skip(MISSING_RESULTS)  # the model went on without seeing a result
            example.messages.append(_response(message, example, open_calls))
    if open_calls:
        raise Skip(MISSING_RESULTS)
    if not any(m["role"] == "assistant" for m in example.messages):
        raise Skip(NO_REPLY)
    try:  # a tokenizer cannot take a lone surrogate (a client may send one): it would fail training
        json.dumps(example.messages, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        raise Skip(NOT_UNICODE) from None
    return example


def _request(message: ModelRequest, example: Example, open_calls: set[str]) -> None:
    messages = example.messages
    if message.instructions and not any(m["role"] == "system" for m in messages):
        messages.append({"role": "system", "content": message.instructions})
    for part in message.parts:
        if isinstance(part, SystemPromptPart):
            messages.append({"role": "system", "content": part.content})
        elif isinstance(part, UserPromptPart):
            messages.append({"role": "user", "content": _user_text(part)})
        elif isinstance(part, ToolReturnPart):
            content = part.model_response_str()
            if content.startswith(ELIDED_PREFIX):
                raise Skip(SHORTENED_RESULTS)
            messages.append(_tool_message(part.tool_call_id, part.tool_name, content, open_calls))
        elif isinstance(part, RetryPromptPart):
            if part.tool_name is None:
                messages.append({"role": "user", "content": part.model_response()})
            else:
                messages.append(_tool_message(part.tool_call_id, part.tool_name, part.model_response(), open_calls))


def _tool_message(call_id: str, name: str, content: str, open_calls: set[str]) -> Message:
    if call_id not in open_calls:
        raise Skip(MISSING_RESULTS)  # a result for no call we kept: the history is incomplete
    open_calls.discard(call_id)
    return {"role": "tool", "tool_call_id": call_id, "name": name, "content": content}


def _response(message: ModelResponse, example: Example, open_calls: set[str]) -> Message:
    text = "".join(p.content for p in message.parts if isinstance(p, TextPart))
    thinking = "".join(p.content for p in message.parts if isinstance(p, ThinkingPart))
    out: Message = {"role": "assistant", "content": text}
    if thinking.strip():
        out["reasoning_content"] = thinking
    calls = [p for p in message.parts if isinstance(p, ToolCallPart)]
    if calls:
        out["tool_calls"] = [_call(p) for p in calls]
        open_calls.update(p.tool_call_id for p in calls)
        example.called.extend(p.tool_name for p in calls)
    return out


def _call(part: ToolCallPart) -> Message:
    try:
        arguments = part.args_as_dict(raise_if_invalid=True)
    except (ValueError, AssertionError):
        raise Skip(BROKEN_CALL) from None
    if part.tool_name == INVALID_TOOL_NAME:
        raise Skip(BROKEN_CALL)
    return {"id": part.tool_call_id, "type": "function", "function": {"name": part.tool_name, "arguments": arguments}}


def _user_text(part: UserPromptPart) -> str:
    if isinstance(part.content, str):
        return part.content
    return "".join(item for item in part.content if isinstance(item, str))


def json_line(example: Example, tools: list[dict[str, Any]]) -> str:
    # ASCII escapes: a lone surrogate a client once sent is kept as text, not an encoding error.
    return json.dumps({"messages": example.messages, "tools": tools}, ensure_ascii=True) + "\n"
