"""Tool calls written as text (Qwen3's `<tool_call>` JSON, Qwen3-Coder XML, JSON fences, untagged
calls), recovered from a streamed reply; shared by the in-process mlx backend and the
OpenAI-compatible one, and free of mlx so either can use it alone."""

from punie_acp.models.toolcalls.calls import INVALID_TOOL_NAME, ParsedCall, parse_tool_block
from punie_acp.models.toolcalls.reply import (
    NORMAL,
    REASONING,
    ParseEvent,
    ReplyDelta,
    ReplyParser,
    ThinkingDelta,
    ToolCallEnd,
)

__all__ = [
    "INVALID_TOOL_NAME",
    "NORMAL",
    "REASONING",
    "ParseEvent",
    "ParsedCall",
    "ReplyDelta",
    "ReplyParser",
    "ThinkingDelta",
    "ToolCallEnd",
    "parse_tool_block",
]
