"""Suite files: TOML a user can write (README, "Evaluate a model"), read and checked here.

    name = "mine"
    fixture = "project"            # a directory beside this file, copied afresh for every case
    [files]                        # and/or files written into the copy (path = text)
    "app/views.py" = "class UserListView: ..."
    max_requests = 8               # default for every case

    [[case]]
    id = "find-views"
    prompt = "Find all Django view classes"
    expect = "tool"                # or "direct": answer without tools
    tools = ["grep"]               # the first tool call is one of these
    uses = ["edit_file"]           # each is called at some point
    keywords = ["UserListView"]    # all in the final answer (any case)
    tests_pass = false             # the fixture's tests pass after the turn
    [[case.args]]                  # some call's argument satisfies a predicate (predicates.py)
    tool = "grep"
    arg = "pattern"
    matches = "class"
    [[case.after]]                 # the project afterwards: a file's text, or whether it exists
    file = "app/views.py"
    contains = "ListView"
    [[case.reference]]             # a call that solves the case: checked against the case itself
    tool = "grep"
    args = { pattern = "class \\w+View" }
    [case.files]                   # this case's own files, over the suite's

Everything is checked before anything runs; a problem is one `SuiteError` line naming the file,
the case and the key.
"""

from __future__ import annotations

import stat
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path, PurePosixPath
from typing import Any

from punie_acp.evaluation.predicates import ArgCheck, Predicate, PredicateError, parse_predicate

MAX_SUITE_BYTES = 1_000_000
MAX_CASES = 500
MAX_PROMPT_CHARS = 20_000
MAX_TEXT_CHARS = 2_000
MAX_LIST = 64
BUILTIN = Path(str(resources.files("punie_acp.evaluation") / "suites"))

MAX_FILES = 500
_SUITE_KEYS = frozenset({"name", "description", "fixture", "files", "max_requests", "case"})
_CASE_KEYS = frozenset(
    {"id", "prompt", "expect", "tools", "uses", "keywords", "max_requests", "tests_pass", "args", "after"}
    | {"reference", "reference_answer", "files"}
)


class SuiteError(ValueError):
    """A suite that cannot be used: one line naming the file, the case and the problem."""


@dataclass(frozen=True)
class FileCheck:
    """After the turn, `path` (inside the project copy) exists or not, and its text satisfies `predicate`."""

    path: str
    predicate: Predicate | None = None
    exists: bool = True

    def describe(self) -> str:
        if not self.exists:
            return f"{self.path} is gone"
        return f"{self.path} {self.predicate.describe()}" if self.predicate else f"{self.path} exists"


@dataclass(frozen=True)
class ReferenceCall:
    tool: str
    args: Mapping[str, Any]


@dataclass(frozen=True)
class Case:
    id: str
    prompt: str
    expect: str  # "tool" | "direct"
    tools: tuple[str, ...] = ()
    uses: tuple[str, ...] = ()
    args: tuple[ArgCheck, ...] = ()
    keywords: tuple[str, ...] = ()
    max_requests: int | None = None
    tests_pass: bool = False
    after: tuple[FileCheck, ...] = ()
    reference: tuple[ReferenceCall, ...] = ()
    reference_answer: str | None = None
    files: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Suite:
    name: str
    description: str
    path: Path
    fixture: Path | None
    cases: tuple[Case, ...]
    files: Mapping[str, str] = field(default_factory=dict)


class _Table:
    """Typed reads from a TOML table; every refusal names where it is."""

    def __init__(self, table: Any, where: str, keys: frozenset[str]) -> None:
        if not isinstance(table, dict):
            raise SuiteError(f"{where}: expected a table")
        unknown = sorted(set(table) - keys)
        if unknown:
            raise SuiteError(f"{where}: unknown key {unknown[0]!r} (known: {', '.join(sorted(keys))})")
        self.data: dict[str, Any] = table
        self.where = where

    def fail(self, problem: str) -> SuiteError:
        return SuiteError(f"{self.where}: {problem}")

    def text(self, key: str, default: str | None = None, limit: int = MAX_TEXT_CHARS) -> str:
        value = self.data.get(key, default)
        if not isinstance(value, str) or not value.strip():
            raise self.fail(f"{key!r} must be non-empty text")
        if len(value) > limit or "\x00" in value:
            raise self.fail(f"{key!r} is longer than {limit} characters or holds a NUL")
        return value

    def name(self, key: str, default: str | None = None) -> str:
        """A short name printed on the terminal: no control characters (escape sequences)."""
        value = self.text(key, default, limit=80)
        if any(ord(ch) < 32 or 0x7F <= ord(ch) < 0xA0 for ch in value):
            raise self.fail(f"{key!r} holds a control character")
        return value

    def texts(self, key: str) -> tuple[str, ...]:
        value = self.data.get(key, [])
        if not isinstance(value, list) or len(value) > MAX_LIST:
            raise self.fail(f"{key!r} must be a list of at most {MAX_LIST} texts")
        if not all(isinstance(v, str) and v.strip() and len(v) <= MAX_TEXT_CHARS for v in value):
            raise self.fail(f"{key!r} must hold non-empty texts")
        return tuple(value)

    def tables(self, key: str) -> list[Any]:
        value = self.data.get(key, [])
        if not isinstance(value, list) or len(value) > MAX_LIST:
            raise self.fail(f"{key!r} must be a list of at most {MAX_LIST} tables ([[case.{key}]])")
        return value

    def whole(self, key: str, default: int | None) -> int | None:
        value = self.data.get(key, default)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 10_000:
            raise self.fail(f"{key!r} must be a whole number from 1 to 10000")
        return value

    def files(self) -> dict[str, str]:
        value = self.data.get("files", {})
        if not isinstance(value, dict) or len(value) > MAX_FILES:
            raise self.fail(f"'files' must be a table of at most {MAX_FILES} paths to texts")
        files: dict[str, str] = {}
        for path, text in value.items():
            try:
                files[relative_path(path, "a 'files' path")] = text
            except PredicateError as exc:
                raise self.fail(str(exc)) from None
            if not isinstance(text, str):
                raise self.fail(f"'files' {path[:80]!r} must be text")
        return files

    def flag(self, key: str) -> bool:
        value = self.data.get(key, False)
        if not isinstance(value, bool):
            raise self.fail(f"{key!r} must be true or false")
        return value


def relative_path(raw: Any, what: str) -> str:
    """A relative POSIX path that stays where it is put: no absolute path, no `..`, no NUL."""
    if not isinstance(raw, str) or not raw.strip() or len(raw) > 1000 or "\x00" in raw or "\\" in raw:
        raise PredicateError(f"{what} must be a relative path")
    path = PurePosixPath(raw)
    if path.is_absolute() or ".." in path.parts:
        raise PredicateError(f"{what} {raw[:80]!r} must stay inside its directory (no absolute path, no '..')")
    return raw


def _arg_check(raw: Any, where: str) -> ArgCheck:
    table = _Table(raw, where, frozenset({"tool", "arg", "ignore_case", "equals", "contains", "matches", "one_of"}))
    tool = table.name("tool") if "tool" in table.data else None
    return ArgCheck(table.text("arg"), parse_predicate(table.data), tool)


def _file_check(raw: Any, where: str) -> FileCheck:
    table = _Table(raw, where, frozenset({"file", "exists", "ignore_case", "contains", "matches", "equals"}))
    path = relative_path(table.data.get("file"), "'file'")
    if "exists" in table.data:
        if len(table.data) != 2 or not isinstance(table.data["exists"], bool):
            raise table.fail("'exists' (true or false) stands alone beside 'file'")
        return FileCheck(path, None, table.data["exists"])
    has_operator = any(k in table.data for k in ("contains", "matches", "equals"))
    return FileCheck(path, parse_predicate(table.data) if has_operator else None)


def _reference(raw: Any, where: str) -> ReferenceCall:
    table = _Table(raw, where, frozenset({"tool", "args"}))
    args = table.data.get("args", {})
    if not isinstance(args, dict):
        raise table.fail("'args' must be a table")
    return ReferenceCall(table.text("tool"), args)


def _case(raw: Any, number: int, where: str, default_max: int | None) -> Case:
    ident = raw.get("id") if isinstance(raw, dict) else None
    table = _Table(raw, f"{where}: case {number}" + (f" ({str(ident)[:40]!r})" if ident else ""), _CASE_KEYS)
    expect = table.data.get("expect")
    if expect not in ("tool", "direct"):
        raise table.fail('\'expect\' must be "tool" or "direct"')
    try:
        where = table.where
        checks = tuple(_arg_check(t, f"{where}: args[{i}]") for i, t in enumerate(table.tables("args")))
        after = tuple(_file_check(t, f"{where}: after[{i}]") for i, t in enumerate(table.tables("after")))
        reference = tuple(_reference(t, f"{where}: reference[{i}]") for i, t in enumerate(table.tables("reference")))
    except PredicateError as exc:
        raise table.fail(str(exc)) from None
    answer = table.text("reference_answer", limit=MAX_PROMPT_CHARS) if "reference_answer" in table.data else None
    return Case(
        id=table.name("id"),
        prompt=table.text("prompt", limit=MAX_PROMPT_CHARS),
        expect=expect,
        tools=table.texts("tools"),
        uses=table.texts("uses"),
        args=checks,
        keywords=table.texts("keywords"),
        max_requests=table.whole("max_requests", default_max),
        tests_pass=table.flag("tests_pass"),
        after=after,
        reference=reference,
        reference_answer=answer,
        files=table.files(),
    )


def _fixture(raw: Any, suite_path: Path) -> Path | None:
    if raw is None:
        return None
    try:
        relative = relative_path(raw, "'fixture'")
    except PredicateError as exc:
        raise SuiteError(f"{suite_path}: {exc}") from None
    base = suite_path.parent.resolve()
    target = (base / relative).resolve()
    # The fixture is copied for every case: it must be the suite's own, not a path out of its directory.
    if target != base and base not in target.parents:
        raise SuiteError(f"{suite_path}: 'fixture' {raw!r} leads out of the suite's directory (through a symlink)")
    if not target.is_dir():
        raise SuiteError(f"{suite_path}: 'fixture' {raw!r} is not a directory beside the suite file")
    return target


def _read(path: Path) -> dict[str, Any]:
    try:
        if not stat.S_ISREG(path.stat().st_mode):
            raise SuiteError(f"{path}: not a regular file")
        with path.open("rb") as handle:
            data = handle.read(MAX_SUITE_BYTES + 1)
    except OSError as exc:
        raise SuiteError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    if len(data) > MAX_SUITE_BYTES:
        raise SuiteError(f"{path}: larger than {MAX_SUITE_BYTES // 1000} kB; split it into several suites")
    try:
        return tomllib.loads(data.decode("utf-8"))
    except UnicodeDecodeError:
        raise SuiteError(f"{path}: not UTF-8 text") from None
    except (tomllib.TOMLDecodeError, RecursionError) as exc:
        raise SuiteError(f"{path}: not valid TOML ({str(exc).splitlines()[0] if str(exc) else 'too deep'})") from None


def load_suite(path: Path) -> Suite:
    """The suite in `path`, checked whole; raises `SuiteError`."""
    table = _Table(_read(path), str(path), _SUITE_KEYS)
    default_max = table.whole("max_requests", None)
    raw_cases = table.data.get("case")
    if not isinstance(raw_cases, list) or not raw_cases:
        raise SuiteError(f"{path}: no cases; add [[case]] tables")
    if len(raw_cases) > MAX_CASES:
        raise SuiteError(f"{path}: more than {MAX_CASES} cases")
    cases = tuple(_case(raw, n + 1, str(path), default_max) for n, raw in enumerate(raw_cases))
    seen: set[str] = set()
    for case in cases:
        if case.id in seen:
            raise SuiteError(f"{path}: two cases have the id {case.id!r}")
        seen.add(case.id)
    name = table.name("name", path.stem)
    description = table.text("description", "-", limit=MAX_PROMPT_CHARS)
    fixture = _fixture(table.data.get("fixture"), path)
    return Suite(name, description, path, fixture, cases, table.files())


def builtin_names() -> list[str]:
    return sorted(p.stem for p in BUILTIN.glob("*.toml"))


def find_suite(name_or_path: str) -> Suite:
    """A built-in suite by name, or a suite file by path."""
    builtin = BUILTIN / f"{name_or_path}.toml"
    if "/" not in name_or_path and builtin.is_file():
        return load_suite(builtin)
    path = Path(name_or_path).expanduser()
    if not path.exists():
        names = ", ".join(builtin_names())
        raise SuiteError(f"no suite {name_or_path!r}: give a suite file or one of the built-in suites ({names})")
    return load_suite(path)
