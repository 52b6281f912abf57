"""Scoring one case from what its turn did."""

from __future__ import annotations

from typing import Any

from punie_acp.core.events import TurnEnded
from punie_acp.evaluation.predicates import ArgCheck, Predicate
from punie_acp.evaluation.scoring import Observed, passed, score
from punie_acp.evaluation.suite import Case
from punie_acp.evaluation.transcript import limit_hit, loop_guard_hit


def _seen(calls: list[tuple[str, Any]], answer: str = "", **kw: Any) -> Observed:
    base: dict[str, Any] = {"requests": len(calls) + 1, "stop_reason": "end_turn", "loop_guard": False}
    base["after_ok"] = None
    return Observed(calls=calls, answer=answer, **{**base, **kw})


TOOL_CASE = Case(
    id="t",
    prompt="p",
    expect="tool",
    tools=("grep", "workspace_symbols"),
    uses=("edit_file|write_file",),
    args=(
        ArgCheck("pattern", Predicate("matches", "View"), tool="grep"),
        ArgCheck("query", Predicate("contains", "View"), tool="workspace_symbols"),
    ),
    keywords=("UserListView",),
    max_requests=3,
)


def test_a_case_passes_when_every_check_that_applies_passes() -> None:
    checks = score(TOOL_CASE, _seen([("grep", {"pattern": "class .*View"}), ("write_file", {})], "the userlistview"))
    # The workspace_symbols check does not apply: that tool was not called.
    assert checks == {
        "decision": True,
        "tool": True,
        "args": True,
        "uses": True,
        "keywords": True,  # any case
        "request_budget": True,
        "no_loop": True,
        "finished": True,
        "after": None,
    }
    assert passed(checks)


def test_each_failure_is_its_own_check() -> None:
    calls: list[tuple[str, Any]] = [("read_file", {}), ("grep", {"pattern": "def"}), ("grep", {"pattern": "x"})]
    checks = score(TOOL_CASE, _seen(calls, "nothing", requests=4, stop_reason="max_turn_requests", loop_guard=True))
    failed = {name for name, value in checks.items() if value is False}
    assert failed == {"tool", "args", "uses", "keywords", "request_budget", "no_loop", "finished"}
    assert not passed(checks)


def test_tool_versus_direct() -> None:
    direct = Case(id="d", prompt="p", expect="direct")
    assert score(direct, _seen([]))["decision"] is True
    assert score(direct, _seen([("grep", {})]))["decision"] is False
    assert score(TOOL_CASE, _seen([]))["decision"] is False
    assert score(direct, _seen([]))["tool"] is None


def test_the_loop_guard_and_the_limits_are_told_apart() -> None:
    guard = TurnEnded("max_turn_requests", "Stopped: the model repeated …", "repeated_tool_call")
    limit = TurnEnded("max_turn_requests", "Stopped: … request_limit of 2.", "usage_limit")
    assert loop_guard_hit(guard) and not limit_hit(guard)
    assert limit_hit(limit) and not loop_guard_hit(limit)
    assert not loop_guard_hit(TurnEnded("end_turn")) and not limit_hit(None)
    # The cause decides, never the wording: a reply that merely says so is no guard.
    lookalike = TurnEnded("max_turn_requests", "Stopped: the model repeated the same `grep` call")
    assert not loop_guard_hit(lookalike) and not limit_hit(lookalike)


def test_a_catastrophic_pattern_gives_up_instead_of_hanging() -> None:
    # Nested quantifiers on text the model wrote: the regex engine's time limit ends it (as a non-match).
    assert Predicate("matches", "(a+)+$").holds("a" * 40 + "b") is False
    assert Predicate("matches", "(?i)VIEW", ignore_case=False).holds("userview") is True
    assert Predicate("one_of", ["a", "B"], ignore_case=True).holds("b") is True
    assert Predicate("equals", 3).holds(3) and not Predicate("equals", 3).holds("3")
    assert Predicate("contains", '"x": 1').holds({"x": 1})  # non-text arguments are compared as JSON
