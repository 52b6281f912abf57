"""A small JSONC reader (JSON plus `//` and `/* */` comments and trailing commas, as Zed allows)
that keeps every value's position, so a change can be spliced into the text and everything else
stays byte for byte as the user wrote it.

`parse` builds a tree of `Node`s with their spans; `plain_value` is an independent second reading
(strip comments and trailing commas, then the standard `json` module) used to check a splice.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any, Literal, NoReturn

# A settings file is small; this bounds the work a hostile file can cause.
MAX_DEPTH = 128

# One whitespace character per repetition: no two ways to match the same text (no backtracking).
_WS_OR_COMMENT = re.compile(r"(?:[ \t\r\n]|//[^\n]*|/\*(?:[^*]|\*(?!/))*\*/)*")
_STRING = re.compile(r'"(?:[^"\\\x00-\x1f]|\\.)*"', re.DOTALL)
_NUMBER = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?")
_LITERALS = {"true": True, "false": False, "null": None}


class JsoncError(ValueError):
    """The text is not JSONC; the message names the line and column."""


@dataclass
class Member:
    key: str
    key_start: int
    value: Node
    comma_end: int | None = None  # just past the comma after the value, when there is one


@dataclass
class Node:
    kind: Literal["object", "array", "scalar"]
    start: int
    end: int  # exclusive
    value: Any = None
    members: list[Member] = field(default_factory=list)  # objects only, in order, duplicates kept

    def named(self, key: str) -> list[Member]:
        return [m for m in self.members if m.key == key]


@dataclass(frozen=True)
class Document:
    text: str
    root: Node | None  # None: only whitespace and comments


def parse(text: str) -> Document:
    return _Parser(text).document()


def where(text: str, pos: int) -> str:
    line = text.count("\n", 0, pos) + 1
    column = pos - (text.rfind("\n", 0, pos) + 1) + 1
    return f"line {line}, column {column}"


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 1 if text.startswith("\ufeff") else 0

    def document(self) -> Document:
        self._skip()
        if self.pos >= len(self.text):
            return Document(self.text, None)
        root = self._value(0)
        self._skip()
        if self.pos < len(self.text):
            self._fail("unexpected text after the end")
        return Document(self.text, root)

    def _fail(self, what: str) -> NoReturn:
        raise JsoncError(f"{what} at {where(self.text, self.pos)}")

    def _skip(self) -> None:
        found = _WS_OR_COMMENT.match(self.text, self.pos)
        assert found is not None  # the pattern matches the empty string
        self.pos = found.end()
        if self.text.startswith("/*", self.pos):
            self._fail("unterminated comment")

    def _value(self, depth: int) -> Node:
        if depth > MAX_DEPTH:
            self._fail(f"nested deeper than {MAX_DEPTH} levels")
        char = self.text[self.pos : self.pos + 1]
        if char == "{":
            return self._object(depth)
        if char == "[":
            return self._array(depth)
        if char == '"':
            start = self.pos
            value = self._string()
            return Node("scalar", start, self.pos, value)
        return self._scalar()

    def _string(self) -> str:
        found = _STRING.match(self.text, self.pos)
        if found is None:
            self._fail("unterminated string (or a control character inside one)")
        try:
            value: str = json.loads(found.group())
        except json.JSONDecodeError:
            self._fail("bad escape in a string")
        self.pos = found.end()
        return value

    def _scalar(self) -> Node:
        start = self.pos
        for word, value in _LITERALS.items():
            if self.text.startswith(word, start):
                self.pos += len(word)
                return Node("scalar", start, self.pos, value)
        found = _NUMBER.match(self.text, start)
        if found is None or not found.group():
            self._fail("expected a value")
        self.pos = found.end()
        return Node("scalar", start, self.pos, json.loads(found.group()))

    def _expect(self, char: str) -> None:
        if not self.text.startswith(char, self.pos):
            self._fail(f"expected {char!r}")
        self.pos += 1

    def _object(self, depth: int) -> Node:
        node = Node("object", self.pos, self.pos, {})
        self.pos += 1
        self._skip()
        while not self.text.startswith("}", self.pos):
            if not self.text.startswith('"', self.pos):
                self._fail("expected a quoted key")
            key_start = self.pos
            key = self._string()
            self._skip()
            self._expect(":")
            self._skip()
            member = Member(key, key_start, self._value(depth + 1))
            node.members.append(member)
            node.value[key] = member.value.value  # the last duplicate wins, as in `json`
            self._skip()
            if self.text.startswith(",", self.pos):
                self.pos += 1
                member.comma_end = self.pos
                self._skip()
            elif not self.text.startswith("}", self.pos):
                self._fail("expected ',' or '}'")
        self.pos += 1
        node.end = self.pos
        return node

    def _array(self, depth: int) -> Node:
        node = Node("array", self.pos, self.pos, [])
        self.pos += 1
        self._skip()
        while not self.text.startswith("]", self.pos):
            node.value.append(self._value(depth + 1).value)
            self._skip()
            if self.text.startswith(",", self.pos):
                self.pos += 1
                self._skip()
            elif not self.text.startswith("]", self.pos):
                self._fail("expected ',' or ']'")
        self.pos += 1
        node.end = self.pos
        return node


# The second, independent reading ---------------------------------------------------------------

_COMMENTS = re.compile(r'("(?:[^"\\]|\\.)*")|//[^\n]*|/\*(?:[^*]|\*(?!/))*\*/', re.DOTALL)
_TRAILING_COMMAS = re.compile(r'("(?:[^"\\]|\\.)*")|,(?=\s*[}\]])', re.DOTALL)


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def plain_value(text: str) -> Any:
    """The value of a JSONC text read the other way: comments and trailing commas removed, then
    `json.loads`. Raises `ValueError` for anything `json` refuses."""
    body = text[1:] if text.startswith("\ufeff") else text
    body = _COMMENTS.sub(lambda m: m.group(1) or " ", body)
    body = _TRAILING_COMMAS.sub(lambda m: m.group(1) or "", body)
    return json.loads(body, parse_constant=_reject_constant)
