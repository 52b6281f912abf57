"""Regular expressions and globs whose work is bounded, for patterns nobody trusted.

Python's `re` backtracks without limit and holds the GIL while it does: one pattern such as
`(a+)+$` over a long line freezes the whole server, event loop included. Everything here
runs on the `regex` module instead, which matches the same (Python `re`) syntax but takes a
`timeout` and, with `concurrent=True`, releases the GIL while it matches, so a slow match
costs a worker thread its time slice, never the event loop. A linear-time engine (RE2)
would refuse back-references and look-arounds that grep users expect, and is not a
dependency here.

`regex` expands counted repetitions when it compiles (`(?:a{1000}){1000}` takes seconds,
GIL held), so patterns are measured before they are compiled and refused when too large.
"""

from __future__ import annotations

import fnmatch
import time
from typing import Any

import regex

MAX_PATTERN_CHARS = 1000
MAX_EXPANDED_SIZE = 100_000  # atoms after counted repetitions are unrolled
MAX_GLOB_CHARS = 500
LINE_SECONDS = 1.0  # at most this long matching one line (or one path)


class PatternError(ValueError):
    """A pattern refused before use; the message says why, for the model to fix it."""


class PatternTooSlow(Exception):
    """A match exceeded its time budget (catastrophic backtracking)."""


def _repeat_at(pattern: str, i: int) -> tuple[int, int] | None:
    """A `{m}`, `{m,}` or `{m,n}` at `pattern[i]`: (largest count, index after it)."""
    end = pattern.find("}", i)
    if end < 0:
        return None
    body = pattern[i + 1 : end]
    numbers = [part.strip() for part in body.split(",")]
    # `{,n}` is a repetition to `regex` too (unlike `re`); `{}` and `{,}` are literals.
    if len(numbers) > 2 or not all(n.isdigit() or n == "" for n in numbers) or not any(numbers):
        return None
    return max(int(n) for n in numbers if n) + 1, end + 1


def expanded_size(pattern: str) -> int:
    """An upper bound of how many atoms `regex` unrolls counted repetitions into."""
    stack: list[int] = [0]  # size of the sequence being built, one per open group
    last = 0  # size of the last atom (what a following repetition multiplies)
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\":
            i += 2
            stack[-1] += 1
            last = 1
            continue
        if ch == "[":
            j = i + 1
            if j < len(pattern) and pattern[j] == "^":
                j += 1
            if j < len(pattern) and pattern[j] == "]":
                j += 1
            while j < len(pattern) and pattern[j] != "]":
                j += 2 if pattern[j] == "\\" else 1
            i = j + 1
            stack[-1] += 1
            last = 1
            continue
        if ch == "(":
            stack.append(0)
            last = 0
        elif ch == ")" and len(stack) > 1:
            last = max(stack.pop(), 1)
            stack[-1] += last
        elif ch == "{" and (repeat := _repeat_at(pattern, i)) is not None:
            count, i = repeat
            stack[-1] += last * (count - 1)
            last *= count
            continue
        else:
            stack[-1] += 1
            last = 1
        i += 1
    return sum(stack)


def compile_search(pattern: str) -> Any:
    """A model-supplied regular expression (Python syntax), checked and compiled with `regex`."""
    if len(pattern) > MAX_PATTERN_CHARS:
        raise PatternError(f"the pattern is {len(pattern)} characters long; at most {MAX_PATTERN_CHARS} are accepted")
    if expanded_size(pattern) > MAX_EXPANDED_SIZE:
        raise PatternError("the pattern's counted repetitions ({m,n}) are too large; use smaller counts")
    try:
        return regex.compile(pattern)
    except (regex.error, OverflowError, RecursionError) as exc:
        raise PatternError(f"invalid regular expression: {exc}") from exc


def search_line(compiled: Any, line: str, seconds: float = LINE_SECONDS) -> bool:
    """Whether `compiled` occurs in `line`; `PatternTooSlow` past `seconds` (GIL released meanwhile)."""
    try:
        return compiled.search(line, timeout=seconds, concurrent=True) is not None
    except TimeoutError as exc:
        raise PatternTooSlow(str(exc)) from exc


class Glob:
    """A glob ('*.py', 'src/**/*.ts'; '*' also crosses '/') matched against a path or its last name."""

    def __init__(self, pattern: str) -> None:
        if len(pattern) > MAX_GLOB_CHARS:
            raise PatternError(f"the glob is {len(pattern)} characters long; at most {MAX_GLOB_CHARS} are accepted")
        self.pattern = pattern
        try:
            self._compiled: Any = regex.compile(fnmatch.translate(pattern))
        except regex.error as exc:
            raise PatternError(f"invalid glob {pattern!r}: {exc}") from exc

    def _match(self, text: str) -> bool:
        try:
            return self._compiled.match(text, timeout=LINE_SECONDS, concurrent=True) is not None
        except TimeoutError as exc:
            raise PatternTooSlow(f"the glob {self.pattern!r} took too long to match {text[:80]!r}") from exc

    def matches(self, rel: str) -> bool:
        return self._match(rel) or self._match(rel.rsplit("/", 1)[-1])


def glob_filter(paths: list[str], glob: Glob | None, budget: float = 30.0) -> list[str]:
    """The paths a glob matches (all when None), for a worker thread; `PatternTooSlow` past `budget`."""
    if glob is None:
        return paths
    deadline = time.monotonic() + budget
    kept = []
    for rel in paths:
        if glob.matches(rel):
            kept.append(rel)
        if time.monotonic() > deadline:
            raise PatternTooSlow(f"matching the glob {glob.pattern!r} took more than {budget:.0f} s")
    return kept
