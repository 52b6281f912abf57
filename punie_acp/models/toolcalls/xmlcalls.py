"""Qwen3-Coder's XML tool calls: `<function=name><parameter=p>\nvalue\n</parameter></function>`.

Values are converted with the tool's JSON schema the way mlx-lm's `qwen3_coder` parser (after
Qwen's reference parser) does, so both backends read a call alike; written with `str.find` rather
than regular expressions so a hostile reply cannot make the scan quadratic, and without mlx.
"""

from __future__ import annotations

import ast
import json
from collections.abc import Iterator, Sequence
from typing import Any

_STRING_TYPES = {"string", "str", "text", "varchar", "char", "enum"}
_BOOL_TYPES = {"boolean", "bool", "binary"}
_OBJECT_TYPES = {"object", "array", "arr"}
_INT_PREFIXES = ("int", "uint", "long", "short", "unsigned")


def function_blocks(text: str) -> Iterator[str]:
    """Each `<function=…>…</function>` in `text`, in order (an unclosed one is not yielded)."""
    at = 0
    while (start := text.find("<function=", at)) >= 0:
        end = text.find("</function>", start)
        if end < 0:
            return
        yield text[start : end + len("</function>")]
        at = end + len("</function>")


def parse_function(block: str, tools: Sequence[dict[str, Any]]) -> tuple[str, dict[str, Any]]:
    """Name and arguments of one `<function=…>…</function>` block; ValueError when it names nothing."""
    body = block[len("<function=") : -len("</function>")]
    name, rest = _name_and_rest(body)
    if not name:
        raise ValueError("no function name")
    schema = _properties(name, tools)
    arguments: dict[str, Any] = {}
    for raw in _parameters(rest):
        param, value = _name_and_rest(raw)
        if not param:
            continue
        value = value.removeprefix("\n").removesuffix("\n")
        arguments[param] = _convert(value, schema.get(param))
    return name, arguments


def _name_and_rest(text: str) -> tuple[str, str]:
    """`name>rest` → (name, rest); the name ends at `>`, whitespace or `<`."""
    stripped = text.lstrip()
    end = 0
    while end < len(stripped) and not stripped[end].isspace() and stripped[end] not in "<>":
        end += 1
    rest = stripped[end:]
    return stripped[:end], rest[1:] if rest.startswith(">") else rest


def _parameters(text: str) -> Iterator[str]:
    at = 0
    while (start := text.find("<parameter=", at)) >= 0:
        end = text.find("</parameter>", start)
        if end < 0:
            return
        yield text[start + len("<parameter=") : end]
        at = end + len("</parameter>")


def _properties(name: str, tools: Sequence[dict[str, Any]]) -> dict[str, Any]:
    for tool in tools:
        function = tool.get("function")
        if isinstance(function, dict) and function.get("name") == name:
            params = function.get("parameters") or {}
            properties = params.get("properties", {}) if isinstance(params, dict) else {}
            return properties if isinstance(properties, dict) else {}
    return {}


def _convert(value: str, schema: Any) -> Any:  # noqa: C901 - one branch per JSON schema type
    if value.lower() == "null":
        return None
    if not isinstance(schema, dict) or not schema:
        return value
    if "type" not in schema:
        try:
            loaded = json.loads(value)
        except json.JSONDecodeError:
            return value
        return loaded if isinstance(loaded, dict | list) else value
    kind = str(schema["type"]).strip().lower()
    if kind in _STRING_TYPES:
        return value
    if kind.startswith(_INT_PREFIXES):
        number = float(value)
        if number != int(number):
            raise ValueError(f"invalid integer {value!r}")
        return int(number)
    if kind.startswith(("num", "float")):
        number = float(value)
        return int(number) if number == int(number) else number
    if kind in _BOOL_TYPES:
        return value.lower() == "true"
    if kind in _OBJECT_TYPES or kind.startswith(("dict", "list")):
        try:
            return json.loads(value, strict=False)
        except json.JSONDecodeError:
            pass
    try:
        return ast.literal_eval(value)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return value
