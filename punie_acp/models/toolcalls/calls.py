"""Turn the text of one tool-call block into calls, leniently, never dropping one silently.

Accepted inside `<tool_call>…</tool_call>` (or a recovered block, see `reply.py`):
- JSON `{"name": …, "arguments": {…}}` (also `"parameters"`, OpenAI's `{"function": {…}}`, a JSON
  list of calls, several objects back to back, arguments double-encoded as a string);
- the same with single quotes / Python literals (`{'name': 'x', 'arguments': {'a': True}}`);
- a ```json fence around the object;
- Qwen3-Coder XML `<function=name><parameter=p>v</parameter></function>` (one or several), parsed by
  `xmlcalls.py` (mlx-lm's `qwen3_coder` rules) so values are converted with the tool's JSON schema.

Anything else comes back as a `ParsedCall` with `error` set (and the tool name when one can be
read), so the caller can hand the model a retryable error instead of losing the call.
"""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from punie_acp.models.toolcalls.xmlcalls import function_blocks, parse_function

_NAME = re.compile(r"""["']name["']\s*:\s*["']([^"'\n]+)["']|<function=([^>\s]+)>""")
_STRING_OR_WORD = re.compile(r""""(?:\\.|[^"\\])*"|'(?:\\.|[^'\\])*'|\b(?:true|false|null)\b""")
_PY_WORDS = {"true": "True", "false": "False", "null": "None"}


# The tool name given to a call whose name could not be read: PydanticAI answers it with
# "Unknown tool name … Available tools: …", so the model is told and can retry.
INVALID_TOOL_NAME = "invalid_tool_call"


@dataclass(frozen=True)
class ParsedCall:
    name: str | None
    arguments: dict[str, Any] | None
    raw: str
    error: str | None = None


def find_name(text: str) -> str | None:
    """The tool name in a (possibly partial) call, once it is complete."""
    match = _NAME.search(text)
    if match is None:
        return None
    return match.group(1) or match.group(2)


def scan_object(text: str) -> int | None:
    """End index of the first balanced `{…}` / `[…]` in `text` (quote-aware), or None if open."""
    return ObjectScanner().feed(text)


class ObjectScanner:
    """`scan_object` fed piece by piece, so a long streamed object is scanned once, not per piece."""

    def __init__(self) -> None:
        self._depth = 0
        self._quote: str | None = None
        self._escaped = False
        self._started = False
        self.seen = 0

    def feed(self, text: str) -> int | None:
        """Where the object ends, counted from the start of everything fed; None while it is open."""
        for index, char in enumerate(text):
            if self._quote is not None:
                if self._escaped:
                    self._escaped = False
                elif char == "\\":
                    self._escaped = True
                elif char == self._quote:
                    self._quote = None
                continue
            if char in "\"'" and self._started:
                self._quote = char
            elif char in "{[":
                self._depth += 1
                self._started = True
            elif char in "}]" and self._started:
                self._depth -= 1
                if self._depth == 0:
                    return self.seen + index + 1
        self.seen += len(text)
        return None


def load_lenient(text: str) -> tuple[Any, str | None]:
    """JSON, else a Python literal (single quotes, True/None, or JSON words outside strings)."""
    try:
        return json.loads(text, strict=False), None
    except json.JSONDecodeError as exc:
        error = f"invalid JSON: {exc}"
    except RecursionError:
        return None, "invalid JSON: nested too deeply"
    pythonic = _STRING_OR_WORD.sub(lambda m: _PY_WORDS.get(m.group(0), m.group(0)), text)
    try:
        return ast.literal_eval(pythonic), None
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return None, error


def strip_fence(text: str) -> str:
    stripped = text.strip()
    if stripped.startswith("```"):
        stripped = stripped.split("\n", 1)[1] if "\n" in stripped else ""
        if stripped.rstrip().endswith("```"):
            stripped = stripped.rstrip()[:-3]
    return stripped.strip()


def _broken(raw: str, error: str) -> ParsedCall:
    return ParsedCall(find_name(raw), None, raw, error)


def calls_from_value(value: Any, raw: str) -> list[ParsedCall]:
    if isinstance(value, list):
        if not value:
            return [_broken(raw, "empty list of tool calls")]
        return [call for item in value for call in calls_from_value(item, raw)]
    if not isinstance(value, dict):
        return [_broken(raw, "a tool call must be an object with 'name' and 'arguments'")]
    if isinstance(value.get("function"), dict):
        value = value["function"]
    name = value.get("name")
    arguments = value.get("arguments", value.get("parameters", {}))
    if isinstance(arguments, str):
        loaded, _ = load_lenient(arguments) if arguments.strip() else ({}, None)
        arguments = loaded if isinstance(loaded, dict) else arguments
    if not isinstance(name, str) or not name:
        return [ParsedCall(None, None, raw, "the tool call has no 'name'")]
    if not isinstance(arguments, dict):
        return [ParsedCall(name, None, raw, "'arguments' must be a JSON object")]
    return [ParsedCall(name, arguments, raw)]


def _parse_json_calls(text: str) -> list[ParsedCall]:
    calls: list[ParsedCall] = []
    rest = strip_fence(text)
    while rest:
        start = min((i for i in (rest.find("{"), rest.find("[")) if i >= 0), default=-1)
        if start < 0:
            calls.append(_broken(rest, "expected a JSON object with 'name' and 'arguments'"))
            break
        end = scan_object(rest[start:])
        if end is None:
            calls.append(_broken(rest, "the JSON object is not closed"))
            break
        chunk = rest[start : start + end]
        value, error = load_lenient(chunk)
        calls.extend([_broken(chunk, error)] if error else calls_from_value(value, chunk))
        rest = strip_fence(rest[start + end :].lstrip(" \t\r\n,"))
    return calls


def _parse_xml_calls(text: str, tools: Sequence[dict[str, Any]]) -> list[ParsedCall]:
    blocks = list(function_blocks(text))
    if not blocks:
        return [_broken(text, "the <function=…> block is not closed with </function>")]
    calls: list[ParsedCall] = []
    for block in blocks:
        try:
            name, arguments = parse_function(block, tools)
        except (ValueError, TypeError, OverflowError) as exc:
            calls.append(_broken(block, f"invalid <function=…> call: {exc}"))
            continue
        calls.append(ParsedCall(name, arguments, block))
    return calls


def parse_tool_block(text: str, tools: Sequence[dict[str, Any]] = ()) -> list[ParsedCall]:
    """All calls in one tool-call block; unparseable parts come back with `error` set."""
    if not text.strip():
        return [ParsedCall(None, None, text, "empty tool call")]
    if "<function=" in text:
        return _parse_xml_calls(text, tools)
    return _parse_json_calls(text)
