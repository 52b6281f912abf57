"""Structured results inside the sandbox: what a tool's text becomes so a program can filter it.

Tools answer the model with text; a program wants values. Only where the text has a fixed
line shape is it parsed (grep: `path:line: text`, list_files: one path a line); every other
tool's result stays the text a direct call returns. Notes a tool appends (`[…]`, `(no …)`)
are left out of the structured value.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

_MATCH = re.compile(r"^(?P<path>.+?):(?P<line>\d+): (?P<text>.*)$")

# Extra declarations the stubs need for the structured return types.
# Monty raises PermissionError but its type checker's builtins lack the name.
STUB_TYPES = """
from typing import TypedDict

class PermissionError(OSError): ...

class Match(TypedDict):
    path: str
    line: int
    text: str
"""


def _is_note(line: str) -> bool:
    return not line or line.startswith(("[", "("))


def grep_matches(text: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for line in text.splitlines():
        parsed = _MATCH.match(line)
        if parsed is not None and not _is_note(line):
            found.append({"path": parsed["path"], "line": int(parsed["line"]), "text": parsed["text"]})
    return found


def listed_paths(text: str) -> list[str]:
    return [line for line in text.splitlines() if not _is_note(line)]


# name -> (stub return type, converter of the tool's text)
SHAPES: dict[str, tuple[str, Callable[[str], Any]]] = {
    "grep": ("list[Match]", grep_matches),
    "list_files": ("list[str]", listed_paths),
}


def shaped(name: str, text: Any) -> Any:
    shape = SHAPES.get(name)
    if shape is None or not isinstance(text, str):
        return text
    return shape[1](text)


def return_type(name: str) -> str:
    shape = SHAPES.get(name)
    return shape[0] if shape is not None else "str"
