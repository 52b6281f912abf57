"""The small predicate language of suite files: checks on a tool call's arguments and on files.

No code from a suite is ever evaluated. A predicate names one operator:
`equals` (any TOML value), `contains` (text), `matches` (a regular expression, searched),
`one_of` (a list of values); `ignore_case = true` folds case for the text ones.
Regular expressions run on the `regex` engine with a time limit: a suite's pattern meets
text the model wrote, and a catastrophic one must not hang the run.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import regex

OPERATORS = ("equals", "contains", "matches", "one_of")
REGEX_SECONDS = 0.5
MAX_PATTERN_CHARS = 2000


class PredicateError(ValueError):
    """A predicate that cannot be used; the message says which key and why."""


@dataclass(frozen=True)
class Predicate:
    operator: str
    value: Any
    ignore_case: bool = False

    def holds(self, actual: Any) -> bool:
        if self.operator == "equals":
            return bool(_fold(actual, self.ignore_case) == _fold(self.value, self.ignore_case))
        if self.operator == "one_of":
            return any(_fold(actual, self.ignore_case) == _fold(v, self.ignore_case) for v in self.value)
        text = actual if isinstance(actual, str) else json.dumps(actual, sort_keys=True, default=str)
        if self.operator == "contains":
            return _fold(self.value, self.ignore_case) in _fold(text, self.ignore_case)
        flags = regex.IGNORECASE if self.ignore_case else 0
        try:
            return regex.search(self.value, text, flags=flags, timeout=REGEX_SECONDS) is not None
        except TimeoutError:
            return False  # a pattern too slow to decide counts as not matching

    def describe(self) -> str:
        # Text as written in the suite (repr would double every backslash of a pattern).
        shown = f"'{self.value}'" if isinstance(self.value, str) else repr(self.value)
        return f"{self.operator} {shown}" + (" (any case)" if self.ignore_case else "")


def _fold(value: Any, ignore_case: bool) -> Any:
    return value.casefold() if ignore_case and isinstance(value, str) else value


def parse_predicate(table: Mapping[str, Any]) -> Predicate:
    """The one operator in `table` (other keys, such as `arg` or `file`, belong to the caller)."""
    found = [op for op in OPERATORS if op in table]
    if len(found) != 1:
        raise PredicateError(f"needs exactly one of {', '.join(OPERATORS)} (found {len(found)})")
    operator = found[0]
    value = table[operator]
    ignore_case = table.get("ignore_case", False)
    if not isinstance(ignore_case, bool):
        raise PredicateError("'ignore_case' must be true or false")
    if operator in ("contains", "matches") and not isinstance(value, str):
        raise PredicateError(f"'{operator}' takes text")
    if operator == "one_of" and not isinstance(value, list):
        raise PredicateError("'one_of' takes a list")
    if operator == "matches":
        _check_pattern(value)
    return Predicate(operator, value, ignore_case)


def _check_pattern(pattern: str) -> None:
    if len(pattern) > MAX_PATTERN_CHARS:
        raise PredicateError(f"'matches' pattern is longer than {MAX_PATTERN_CHARS} characters")
    try:
        regex.compile(pattern)
    except (regex.error, RecursionError, OverflowError) as exc:
        raise PredicateError(f"'matches' is not a valid regular expression ({exc})") from None


@dataclass(frozen=True)
class ArgCheck:
    """A tool call's argument `arg` satisfies `predicate`; with `tool`, only that tool's calls count."""

    arg: str
    predicate: Predicate
    tool: str | None = None

    def satisfied_by(self, calls: list[tuple[str, Any]]) -> bool:
        """Some call (name, raw arguments) of the case satisfies it."""
        for name, args in calls:
            if self.tool is not None and name != self.tool:
                continue
            if isinstance(args, Mapping) and self.arg in args and self.predicate.holds(args[self.arg]):
                return True
        return False

    def describe(self) -> str:
        where = f"{self.tool}." if self.tool else ""
        return f"{where}{self.arg} {self.predicate.describe()}"
