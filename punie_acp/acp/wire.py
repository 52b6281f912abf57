"""One line of the wire, in and out, strictly; standard library only (the early start uses it too).

In: UTF-8 only (a leading BOM is tolerated), strict JSON (no NaN/Infinity literals), numbers within
what Python holds exactly or as a finite float, and at most `MAX_DEPTH` levels of nesting, so that
nothing downstream (pydantic, `json.dumps` of an error that echoes the input) can hit the
recursion limit. Out: every message is written here, strictly: non-finite floats become null (what
JavaScript's JSON.stringify does) and lone surrogates become U+FFFD, so stdout only ever carries
valid JSON in valid UTF-8.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

# Far above any real ACP message (the deepest are a few levels of `_meta`), far below the
# interpreter's recursion limit even for code that recurses several frames per level.
MAX_DEPTH = 64
# ACP messages hold a handful of items per array (content blocks, options); a long array only
# makes pydantic build one error per item (about 200 bytes each) into an invalid-params answer.
MAX_ARRAY_ITEMS = 10_000

_BOM = b"\xef\xbb\xbf"
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


class ParseFailure(ValueError):
    """The line is not JSON this server can read: answer -32700 with a null id."""


class OutOfLimits(ValueError):
    """The line is JSON, but beyond this server's limits; `message` is what could be read of it."""

    def __init__(self, reason: str, message: Any) -> None:
        super().__init__(reason)
        self.message = message


class EncodeFailure(ValueError):
    """A message that cannot be written as JSON at all."""


def _reject_constant(name: str) -> Any:
    raise ParseFailure(f"{name} is not JSON")


class _NumberOutOfRange(ValueError):
    pass


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise _NumberOutOfRange(text[:40])
    return value


def _exact_int(text: str) -> int:
    try:
        return int(text)
    except ValueError:  # beyond the interpreter's integer-string conversion limit
        raise _NumberOutOfRange(f"an integer of {len(text)} digits") from None


def decode_line(line: bytes) -> Any:
    """The JSON value of one line (already without its newline), strictly.

    Raises ParseFailure when it cannot be read, OutOfLimits when it can only be read in part.
    """
    line = line.strip()
    if line.startswith(_BOM):
        line = line[len(_BOM) :]
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ParseFailure(f"not UTF-8 (byte {exc.start})") from None
    try:
        value = json.loads(text, parse_constant=_reject_constant, parse_float=_finite_float, parse_int=_exact_int)
    except _NumberOutOfRange as exc:
        raise OutOfLimits(f"number out of range: {exc}", _lenient(text)) from None
    except ParseFailure:
        raise
    except RecursionError:
        raise ParseFailure(f"nested deeper than {MAX_DEPTH} levels") from None
    except ValueError as exc:
        raise ParseFailure(str(exc)) from None
    problem = _shape_problem(value)
    if problem is not None:
        raise OutOfLimits(problem, value)
    return value


def _lenient(text: str) -> Any:
    """The line read with out-of-range numbers as null: enough to find the id to answer."""
    try:
        return json.loads(
            text,
            parse_constant=_reject_constant,
            parse_float=lambda s: v if math.isfinite(v := float(s)) else None,
            parse_int=_int_or_none,
        )
    except (ValueError, RecursionError):
        return None


def _int_or_none(text: str) -> int | None:
    try:
        return int(text)
    except ValueError:
        return None


def _shape_problem(value: Any) -> str | None:
    """Too deep or too wide to hand on, else None (iterative: the value may be deep)."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list):
            if len(item) > MAX_ARRAY_ITEMS:
                return f"an array of {len(item)} items (at most {MAX_ARRAY_ITEMS})"
            children = item
        else:
            continue
        if depth > MAX_DEPTH:
            return f"nested deeper than {MAX_DEPTH} levels"
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return None


def encode_message(message: Any) -> bytes:
    """One line of strict JSON (newline included) in valid UTF-8."""
    try:
        text = json.dumps(message, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    except ValueError:  # NaN or Infinity somewhere (or a cycle, which _finite reports)
        text = _dumps(_finite(message, 0))
    except (TypeError, RecursionError) as exc:
        raise EncodeFailure(f"{type(exc).__name__}: {exc}") from None
    try:
        data = text.encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates (decoded from \\ud800 escapes) are not UTF-8
        data = _LONE_SURROGATE.sub("\ufffd", text).encode("utf-8")
    return data + b"\n"


def _dumps(value: Any) -> str:
    try:
        return json.dumps(value, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    except (ValueError, TypeError, RecursionError) as exc:
        raise EncodeFailure(f"{type(exc).__name__}: {exc}") from None


def _finite(value: Any, depth: int) -> Any:
    if depth > 4 * MAX_DEPTH:
        raise EncodeFailure("nested too deeply (or a cycle)")
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {key: _finite(item, depth + 1) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(item, depth + 1) for item in value]
    return value
