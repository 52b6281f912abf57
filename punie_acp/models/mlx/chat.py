"""PydanticAI messages → chat-template messages → prompt tokens, with the model's own template.

The tokenizer's chat template renders everything, tool definitions included (`tools=` JSON
schemas), with `add_generation_prompt=True`, so the prompt is exactly what the model was trained
on. Mapping:
- leading system prompts and the request's instructions → one system message (templates only
  treat the first message as *the* system prompt); later system prompts stay `system` messages;
- user prompts → `user` (non-text content becomes a short note: these models read text only);
- tool results (retries of a tool call included) → `tool` messages, in PydanticAI's order;
- a model response → one `assistant` message: text as `content`, thinking as `reasoning_content`,
  tool calls as `tool_calls` with dict arguments. A call whose arguments never parsed keeps its
  raw text (JSON templates print it verbatim); templates that need a mapping get `{"_unparsed": …}`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from pydantic_ai.messages import (
    ModelMessage,
    ModelRequest,
    ModelResponse,
    RetryFeedbackPart,
    SystemPromptPart,
    TextContent,
    TextPart,
    ThinkingPart,
    ToolCallPart,
    ToolReturnPart,
    UserPromptPart,
)
from pydantic_ai.models import ModelRequestParameters, _sendable_request_parts

from punie_acp.models.mlx.jobs import RenderedPrompt

ChatMessage = dict[str, Any]


def tool_definitions(params: ModelRequestParameters) -> list[dict[str, Any]]:
    """The request's function and output tools as OpenAI-style JSON schemas for the template."""
    tools: list[dict[str, Any]] = []
    for tool in params.declared_tool_defs.values():
        function: dict[str, Any] = {"name": tool.name, "parameters": tool.parameters_json_schema}
        if tool.description:
            function["description"] = tool.description
        tools.append({"type": "function", "function": function})
    return tools


def _user_text(part: UserPromptPart) -> str:
    if isinstance(part.content, str):
        return part.content
    pieces: list[str] = []
    for item in part.content:
        if isinstance(item, str):
            pieces.append(item)
        elif isinstance(item, TextContent):
            pieces.append(item.content)
        elif type(item).__name__ != "CachePoint":
            pieces.append(f"[{type(item).__name__} omitted: this model reads text only]")
    return "\n".join(pieces)


def _arguments(part: ToolCallPart) -> dict[str, Any] | str:
    if isinstance(part.args, dict):
        return part.args
    if not part.args:
        return {}
    try:
        loaded = json.loads(part.args)
    except json.JSONDecodeError:
        return part.args
    return loaded if isinstance(loaded, dict) else part.args


def _assistant(message: ModelResponse) -> ChatMessage:
    texts: list[str] = []
    thoughts: list[str] = []
    calls: list[dict[str, Any]] = []
    for part in message.parts:
        if isinstance(part, TextPart):
            texts.append(part.content)
        elif isinstance(part, ThinkingPart):
            thoughts.append(part.content)
        elif isinstance(part, ToolCallPart):
            function = {"name": part.tool_name, "arguments": _arguments(part)}
            calls.append({"id": part.tool_call_id, "type": "function", "function": function})
    out: ChatMessage = {"role": "assistant", "content": "".join(texts)}
    if thoughts:
        out["reasoning_content"] = "\n".join(t.strip("\n") for t in thoughts)
    if calls:
        out["tool_calls"] = calls
    return out


def _request(message: ModelRequest) -> list[ChatMessage]:
    out: list[ChatMessage] = []
    for part in _sendable_request_parts(message.parts):
        if isinstance(part, SystemPromptPart):
            out.append({"role": "system", "content": part.content})
        elif isinstance(part, UserPromptPart):
            out.append({"role": "user", "content": _user_text(part)})
        elif isinstance(part, ToolReturnPart):
            content = part.model_response_str()
            out.append({"role": "tool", "tool_call_id": part.tool_call_id, "name": part.tool_name, "content": content})
        elif isinstance(part, RetryFeedbackPart):  # an Agent turns these into user prompts first
            out.append({"role": "user", "content": part.model_response()})
        else:
            raise TypeError(f"{type(part).__name__} reached the mlx model unprepared; run it through an Agent")
    return out


def chat_messages(messages: Sequence[ModelMessage], instructions: Sequence[str] = ()) -> list[ChatMessage]:
    out: list[ChatMessage] = []
    for message in messages:
        if isinstance(message, ModelRequest):
            out.extend(_request(message))
        elif isinstance(message, ModelResponse):
            out.append(_assistant(message))
    system: list[str] = []
    while out and out[0]["role"] == "system":
        system.append(out.pop(0)["content"])
    system.extend(instructions)
    if system:
        out.insert(0, {"role": "system", "content": "\n\n".join(system)})
    return out


def _with_mapping_arguments(messages: list[ChatMessage]) -> list[ChatMessage]:
    fixed: list[ChatMessage] = []
    for message in messages:
        calls = message.get("tool_calls")
        if calls and any(isinstance(c["function"]["arguments"], str) for c in calls):
            message = dict(message)
            message["tool_calls"] = [
                c
                if not isinstance(c["function"]["arguments"], str)
                else {**c, "function": {**c["function"], "arguments": {"_unparsed": c["function"]["arguments"]}}}
                for c in calls
            ]
        fixed.append(message)
    return fixed


def render_prompt(
    tokenizer: Any,
    messages: list[ChatMessage],
    tools: list[dict[str, Any]],
    enable_thinking: bool | None = None,
) -> RenderedPrompt:
    """Render with the tokenizer's chat template and encode (runs on the model thread)."""
    kwargs: dict[str, Any] = {"tools": tools or None, "add_generation_prompt": True, "tokenize": False}
    if enable_thinking is not None:
        kwargs["enable_thinking"] = enable_thinking
    try:
        text = tokenizer.apply_chat_template(messages, **kwargs)
    except Exception:
        fixed = _with_mapping_arguments(messages)
        if fixed == messages:
            raise
        text = tokenizer.apply_chat_template(fixed, **kwargs)
    tokens = [int(t) for t in tokenizer.encode(text, add_special_tokens=False)]
    return RenderedPrompt(tokens, str(text))
