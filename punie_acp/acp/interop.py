"""What third-party clients need on the wire beyond what the schema requires.

The schema leaves `rawInput`/`rawOutput` open and `oldText` optional, but clients type-check them:
Toad drops a tool call update whose `rawInput`/`rawOutput` is not an object, and shows a
permission request for a new file with no diff unless `"oldText": null` is there. The SDK
serialises with `exclude_none`, so a null `oldText` can only be put back after it has serialised:
the transport applies `conform` to every outgoing message, which covers updates and permission
requests alike, whoever built them.
"""

from __future__ import annotations

from typing import Any

# Where a message carries a tool call: (method, key in params).
_TOOL_CALL_AT = {"session/update": "update", "session/request_permission": "toolCall"}


def as_object(value: Any, key: str) -> dict[str, Any] | None:
    """`value` as a JSON object: objects as they are, anything else under `key` (None stays None)."""
    if value is None or isinstance(value, dict):
        return value
    return {key: value}


def conform(message: dict[str, Any]) -> dict[str, Any]:
    """`message` as strict clients expect it (a changed copy where something had to change)."""
    at = _TOOL_CALL_AT.get(message.get("method"))  # type: ignore[arg-type]
    params = message.get("params")
    if at is None or not isinstance(params, dict):
        return message
    tool_call = params.get(at)
    if not isinstance(tool_call, dict):
        return message
    fixed = _conform_tool_call(tool_call)
    if fixed is tool_call:
        return message
    return {**message, "params": {**params, at: fixed}}


def _conform_tool_call(tool_call: dict[str, Any]) -> dict[str, Any]:
    changes: dict[str, Any] = {}
    for field, key in (("rawInput", "input"), ("rawOutput", "output")):
        if field in tool_call and not isinstance(tool_call[field], dict):
            changes[field] = as_object(tool_call[field], key)
    content = tool_call.get("content")
    if isinstance(content, list) and any(_diff_without_old_text(item) for item in content):
        changes["content"] = [{**item, "oldText": None} if _diff_without_old_text(item) else item for item in content]
    return {**tool_call, **changes} if changes else tool_call


def _diff_without_old_text(item: Any) -> bool:
    return isinstance(item, dict) and item.get("type") == "diff" and "oldText" not in item
