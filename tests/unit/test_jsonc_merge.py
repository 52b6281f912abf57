"""The JSONC reader and the merge of Punie's entry: what users wrote survives byte for byte, and
anything the merge cannot do safely is refused in one line instead of guessed."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from punie_acp.editor_setup.jsonc import MAX_DEPTH, JsoncError, parse, plain_value
from punie_acp.editor_setup.merge import MergeRefused, merge

ENTRY = {"type": "custom", "command": "/opt/punie/bin/punie", "args": ["serve", "--model", "test"], "env": {}}


def mine(_old: Any) -> dict[str, Any]:
    return dict(ENTRY)


def merged(text: str) -> str:
    return merge(text, "Punie", mine)[0]


# Hand-picked files -----------------------------------------------------------------------------

ZED_WITH_COMMENTS = """// Zed settings
//
// For information on how to configure Zed, see the Zed documentation.
{
  "theme": "One Dark", // my theme
  /* the font */
  "buffer_font_size": 15,
  "agent_servers": {
    "Claude Code": { "command": "claude", "args": ["--acp"], }, // keep me
  },
}
"""


def test_comments_trailing_commas_and_other_agents_survive_byte_for_byte() -> None:
    new = merged(ZED_WITH_COMMENTS)
    added = new.replace(ZED_WITH_COMMENTS[: ZED_WITH_COMMENTS.index("  },\n}")], "", 1)
    assert new.startswith(ZED_WITH_COMMENTS[: ZED_WITH_COMMENTS.index("  },\n}")])
    assert new.endswith("  },\n}\n")
    assert '"Punie": {' in added
    value = plain_value(new)
    assert value["agent_servers"]["Punie"] == ENTRY
    assert value["agent_servers"]["Claude Code"] == {"command": "claude", "args": ["--acp"]}
    assert value["theme"] == "One Dark" and value["buffer_font_size"] == 15


def test_an_existing_punie_entry_is_replaced_in_place_and_its_neighbours_kept() -> None:
    text = '{\n  "agent_servers": {\n    "Punie": {"command": "old"}, // mine\n    "B": {}\n  }\n}\n'
    new = merged(text)
    assert new.startswith('{\n  "agent_servers": {\n    "Punie": {\n')
    assert new.endswith('}, // mine\n    "B": {}\n  }\n}\n')
    assert plain_value(new)["agent_servers"] == {"Punie": ENTRY, "B": {}}


def test_an_entry_already_right_changes_nothing() -> None:
    once = merged("{}")
    assert merged(once) == once


def test_a_new_member_goes_after_the_comment_ending_the_last_line() -> None:
    new = merged('{\n    "theme": "x" // c\n}')
    assert new.startswith('{\n    "theme": "x", // c\n    "agent_servers": {\n        "Punie": {\n')


def test_an_object_on_one_line_stays_on_one_line() -> None:
    assert merged('{"a": 1}') == '{"a": 1, "agent_servers": ' + json.dumps({"Punie": ENTRY}) + "}"


def test_tabs_are_kept_as_the_indentation() -> None:
    new = merged('{\n\t"a": [1, 2,],\n}\n')
    assert '\n\t"agent_servers": {\n\t\t"Punie": {\n\t\t\t"type": "custom",' in new


def test_a_file_of_comments_only_keeps_them() -> None:
    new = merged("// nothing yet\n")
    assert new.startswith("// nothing yet\n{")
    assert plain_value(new) == {"agent_servers": {"Punie": ENTRY}}


def test_a_byte_order_mark_is_kept() -> None:
    new = merged('\ufeff{"a": 1}')
    assert new.startswith('\ufeff{"a": 1, "agent_servers"')


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("[1, 2]", "top level is not an object"),
        ('{"agent_servers": []}', '"agent_servers" at line 1, column 2 is not an object'),
        ('{"agent_servers": {}, "agent_servers": {}}', '"agent_servers" appears 2 times'),
        ('{"agent_servers": {"Punie": {}, "Punie": {}}}', '"Punie" appears 2 times'),
        ('{"a": 1', "expected ',' or '}'"),
        ('{"a": 1} {}', "unexpected text after the end"),
        ('{"a": /* open', "unterminated comment"),
        ('{"a": "line\nbreak"}', "unterminated string"),
        ('{"a": "\\q"}', "bad escape"),
        ('{"a": NaN}', "expected a value"),
        ("{'a': 1}", "expected a quoted key"),
        ('{"a": 01}', "expected ',' or '}'"),
        ('{"a": [1,,2]}', "expected a value"),
        ("[" * (MAX_DEPTH + 5) + "]" * (MAX_DEPTH + 5), f"nested deeper than {MAX_DEPTH} levels"),
        ('{"x":' * 100_000 + "1" + "}" * 100_000, f"nested deeper than {MAX_DEPTH} levels"),
    ],
)
def test_what_cannot_be_merged_safely_is_refused_in_one_line(text: str, reason: str) -> None:
    with pytest.raises(MergeRefused) as caught:
        merged(text)
    assert reason in str(caught.value)
    assert "\n" not in str(caught.value)


def test_a_huge_but_flat_file_is_read_in_linear_time() -> None:
    # Pathological inputs for regular expressions: one long comment, one long string, long runs of
    # whitespace. (No timing: a backtracking pattern would not finish within the test timeout.)
    text = '{"a": "' + "\\\\" * 500_000 + '", /*' + "*" * 500_000 + "*/ " + " \n" * 500_000 + '"b": 1}'
    assert plain_value(merged(text))["b"] == 1


# Properties ------------------------------------------------------------------------------------

KEYS = st.text(alphabet=st.characters(codec="utf-8", exclude_characters="\x00"), max_size=6)
SCALARS = st.none() | st.booleans() | st.integers(-(10**6), 10**6) | KEYS
VALUES = st.recursive(
    SCALARS, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(KEYS, inner, max_size=3), max_leaves=12
)
GAPS = st.sampled_from(["", " ", "\n  ", "\t", " // note\n", "/* c */", "/* a\n b */ ", "// x, y }\n  "])


def _render(value: Any, draw: Callable[[st.SearchStrategy[Any]], Any]) -> str:
    """JSONC text for `value` with comments, whitespace and trailing commas chosen by hypothesis."""
    if isinstance(value, dict):
        items = [f"{draw(GAPS)}{json.dumps(k)}{draw(GAPS)}:{draw(GAPS)}{_render(v, draw)}" for k, v in value.items()]
        trailing = "," if items and draw(st.booleans()) else ""
        return "{" + ",".join(items) + trailing + str(draw(GAPS)) + "}"
    if isinstance(value, list):
        items = [str(draw(GAPS)) + _render(v, draw) for v in value]
        trailing = "," if items and draw(st.booleans()) else ""
        return "[" + ",".join(items) + trailing + str(draw(GAPS)) + "]"
    return json.dumps(value, ensure_ascii=draw(st.booleans()))


def comments(text: str) -> list[str]:
    """The comments in a JSONC text (strings skipped: a key may hold `/*`)."""
    found = re.finditer(r'"(?:[^"\\]|\\.)*"|(//[^\n]*|/\*.*?\*/)', text, re.DOTALL)
    return [m.group(1) for m in found if m.group(1)]


SETTINGS = st.dictionaries(KEYS.filter(lambda k: k != "agent_servers"), VALUES, max_size=4)
AGENTS = st.dictionaries(KEYS, VALUES, max_size=3)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), rest=SETTINGS, agents=st.none() | AGENTS)
def test_a_merge_changes_only_the_punie_entry_and_keeps_every_comment(
    data: st.DataObject, rest: dict[str, Any], agents: dict[str, Any] | None
) -> None:
    document = dict(rest)
    if agents is not None:
        document["agent_servers"] = agents
    text = data.draw(GAPS) + _render(document, data.draw) + data.draw(GAPS)
    new = merged(text)
    value = plain_value(new)
    expected_agents = {**(agents or {}), "Punie": ENTRY}
    assert value == {**rest, "agent_servers": expected_agents}
    for comment in comments(text):
        assert comment in new
    assert merged(new) == new  # a second run finds nothing to do


@settings(max_examples=300)
@given(data=st.data(), value=VALUES)
def test_the_two_readers_agree(data: st.DataObject, value: Any) -> None:
    text = _render(value, data.draw)
    root = parse(text).root
    assert root is not None
    assert root.value == value == plain_value(text)


@settings(max_examples=500)
@given(st.text(alphabet='{}[]:,"\\/*\n abtrue0-1', max_size=60))
def test_arbitrary_text_is_merged_correctly_or_refused(text: str) -> None:
    try:
        new = merged(text)
    except MergeRefused as exc:
        assert "\n" not in str(exc)
        return
    assert plain_value(new)["agent_servers"]["Punie"] == ENTRY


def test_the_reader_reports_line_and_column() -> None:
    with pytest.raises(JsoncError, match="line 3, column 8"):
        parse('{\n  "a": 1,\n  "b": ?\n}')
