"""The streaming reply parser and tool-call recovery (shared by both backends), fed text in pieces."""

from __future__ import annotations

from typing import Any

import pytest

from punie_acp.models.toolcalls import (
    REASONING,
    ParseEvent,
    ReplyDelta,
    ReplyParser,
    ThinkingDelta,
    ToolCallEnd,
    parse_tool_block,
)

TOOLS: list[dict[str, Any]] = [
    {
        "type": "function",
        "function": {
            "name": "read_file",
            "parameters": {
                "type": "object",
                "properties": {"path": {"type": "string"}, "limit": {"type": "integer"}},
            },
        },
    },
    {"type": "function", "function": {"name": "list_dir", "parameters": {"type": "object", "properties": {}}}},
]


def parse(text: str, step: int = 3, **kwargs: Any) -> list[ParseEvent]:
    parser = ReplyParser(TOOLS, **kwargs)
    events: list[ParseEvent] = []
    for i in range(0, len(text), step):
        events += parser.feed(text[i : i + step])
    return events + parser.finish()


def text_of(events: list[ParseEvent]) -> str:
    return "".join(e.text for e in events if isinstance(e, ReplyDelta))


def thinking_of(events: list[ParseEvent]) -> str:
    return "".join(e.text for e in events if isinstance(e, ThinkingDelta))


def calls_of(events: list[ParseEvent]) -> list[tuple[str | None, dict[str, Any] | None, str | None]]:
    return [(e.call.name, e.call.arguments, e.call.error) for e in events if isinstance(e, ToolCallEnd)]


def test_reasoning_then_json_tool_call() -> None:
    events = parse(
        '<think>\nRead it.\n</think>\n\n<tool_call>\n{"name": "read_file", "arguments": {"path": "a"}}\n</tool_call>'
    )
    assert thinking_of(events) == "Read it."
    assert text_of(events) == ""
    assert calls_of(events) == [("read_file", {"path": "a"}, None)]


def test_qwen3_coder_xml_call_converts_values_with_the_schema() -> None:
    text = "Sure.\n<tool_call>\n<function=read_file>\n<parameter=path>\nsrc/a.py\n</parameter>\n"
    text += "<parameter=limit>\n3\n</parameter>\n</function>\n</tool_call>"
    events = parse(text)
    assert text_of(events) == "Sure."
    assert calls_of(events) == [("read_file", {"path": "src/a.py", "limit": 3}, None)]


@pytest.mark.parametrize("step", [1, 2, 5, 1000])
def test_chunk_boundaries_do_not_matter(step: int) -> None:
    text = 'Intro.\n<think>x</think>Answer <tool_call>{"name": "list_dir", "arguments": {}}</tool_call> tail'
    events = parse(text, step)
    assert (text_of(events), thinking_of(events), calls_of(events)) == (
        "Intro.Answertail",
        "x",
        [("list_dir", {}, None)],
    )


def test_json_fence_instead_of_tags() -> None:
    events = parse('Calling:\n```json\n{"name": "read_file", "arguments": {"path": "b"}}\n```\n')
    assert text_of(events) == "Calling:"
    assert calls_of(events) == [("read_file", {"path": "b"}, None)]


def test_json_fence_that_is_not_a_call_stays_text() -> None:
    text = 'Config:\n```json\n{"debug": true}\n```\nDone.'
    assert text_of(parse(text)) == text
    assert calls_of(parse(text)) == []


def test_missing_opening_tag_json() -> None:
    events = parse('{"name": "read_file", "arguments": {"path": "c"}}\n</tool_call>')
    assert calls_of(events) == [("read_file", {"path": "c"}, None)]
    assert text_of(events) == ""


def test_missing_opening_tag_xml() -> None:
    events = parse("<function=read_file>\n<parameter=path>\nd\n</parameter>\n</function>\n</tool_call>")
    assert calls_of(events) == [("read_file", {"path": "d"}, None)]


def test_untagged_call_inside_prose_keeps_the_prose() -> None:
    events = parse('Let me check {"name": "list_dir", "arguments": {}} now.')
    assert calls_of(events) == [("list_dir", {}, None)]
    assert text_of(events) == "Let me checknow."  # two text parts, whitespace around the call trimmed


def test_json_in_prose_that_names_no_tool_stays_text() -> None:
    text = 'The record {"name": "Bob", "age": 3} is fine.'
    assert text_of(parse(text)) == text
    assert calls_of(parse(text)) == []


def test_several_calls_in_one_reply() -> None:
    text = (
        '<tool_call>{"name": "read_file", "arguments": {"path": "1"}}</tool_call>\n'
        '<tool_call>{"name": "read_file", "arguments": {"path": "2"}}\n'
        '{"name": "list_dir", "arguments": {}}</tool_call>'
        '<tool_call>[{"name": "read_file", "arguments": {"path": "3"}}]</tool_call>'
    )
    events = parse(text)
    assert [args for _, args, _ in calls_of(events)] == [{"path": "1"}, {"path": "2"}, {}, {"path": "3"}]
    assert [e.index for e in events if isinstance(e, ToolCallEnd)] == [0, 1, 2, 3]


def test_single_quoted_json() -> None:
    events = parse("<tool_call>{'name': 'read_file', 'arguments': {'path': 'e', 'limit': 2, 'x': true}}</tool_call>")
    assert calls_of(events) == [("read_file", {"path": "e", "limit": 2, "x": True}, None)]


def test_unparseable_call_is_surfaced_with_its_name() -> None:
    events = parse('<tool_call>{"name": "read_file", "arguments": {"path": "f"</tool_call>')
    [(name, args, error)] = calls_of(events)
    assert name == "read_file" and args is None
    assert error is not None and "not closed" in error


def test_garbage_call_is_surfaced_without_a_name() -> None:
    [(name, args, error)] = calls_of(parse("<tool_call>please read the file</tool_call>"))
    assert name is None and args is None and error


def test_unclosed_call_at_a_natural_stop_is_surfaced() -> None:
    [(name, _, error)] = calls_of(parse('<tool_call>\n{"name": "read_file", "arguments": {"pa'))
    assert name == "read_file" and error


def test_call_cut_off_by_max_tokens_comes_out_as_text() -> None:
    parser = ReplyParser(TOOLS)
    events = parser.feed('Writing it.\n<tool_call>\n{"name": "read_file", "arguments": {"pa')
    events += parser.finish(truncated=True)
    assert calls_of(events) == []
    assert text_of(events) == 'Writing it.\n<tool_call>\n{"name": "read_file", "arguments": {"pa'


def test_complete_call_at_a_natural_stop_needs_no_closing_tag() -> None:
    assert calls_of(parse('<tool_call>{"name": "list_dir", "arguments": {}}')) == [("list_dir", {}, None)]


def test_arguments_as_a_json_string_and_openai_shape() -> None:
    calls = parse_tool_block('{"function": {"name": "read_file", "arguments": "{\\"path\\": \\"g\\"}"}}')
    assert [(c.name, c.arguments, c.error) for c in calls] == [("read_file", {"path": "g"}, None)]


def test_whitespace_between_parts_is_trimmed_but_inner_text_kept() -> None:
    events = parse("<think>\n\nplan\n\n</think>\n\nLine one.\n\nLine two.\n")
    assert thinking_of(events) == "plan"
    assert text_of(events) == "Line one.\n\nLine two."


def test_reply_that_starts_inside_think() -> None:
    events = parse("planning</think>\n\nAnswer.", initial=REASONING)
    assert thinking_of(events) == "planning"
    assert text_of(events) == "Answer."


def test_the_parser_imports_no_mlx() -> None:
    import subprocess
    import sys

    probe = "import sys, punie_acp.models.toolcalls as t; t.ReplyParser().feed('<tool_call>{}'); "
    probe += "print(sorted(m for m in sys.modules if m.split('.')[0] in ('mlx', 'mlx_lm')))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


@pytest.mark.parametrize("step", [1, 7])
def test_a_runaway_call_is_reported_once_and_the_rest_dropped(step: int) -> None:
    parser = ReplyParser(TOOLS, max_block_chars=500)
    text = '<tool_call>{"name": "read_file", "arguments": {"path": "' + "x" * 5000 + '"}}</tool_call>After.'
    events: list[ParseEvent] = []
    for i in range(0, len(text), step):
        events += parser.feed(text[i : i + step])
    events += parser.finish()
    [(name, args, error)] = calls_of(events)
    assert name == "read_file" and args is None and error is not None and "longer than 500" in error
    assert text_of(events) == "After."


def test_a_bare_call_streamed_in_tiny_pieces_is_found_once() -> None:
    events = parse('Look: {"name": "read_file", "arguments": {"path": "a}b"}} done', step=1)
    assert calls_of(events) == [("read_file", {"path": "a}b"}, None)]
    assert text_of(events) == "Look:done"


def test_empty_tool_call_block_is_surfaced() -> None:
    [(name, args, error)] = calls_of(parse("<tool_call></tool_call>ok"))
    assert name is None and args is None and error == "empty tool call"


def test_channels_switch_between_reasoning_and_text_but_not_inside_a_call() -> None:
    parser = ReplyParser(TOOLS)
    events = parser.feed("Planning <tool_", channel="reasoning")
    events += parser.feed('call>{"name": "list_dir", ', channel="content")
    events += parser.feed('"arguments": {}}</tool_call>', channel="reasoning")
    events += parser.feed("Answer.", channel="content")
    events += parser.finish()
    assert thinking_of(events) == "Planning"
    assert calls_of(events) == [("list_dir", {}, None)]
    assert text_of(events) == "Answer."


def test_thousands_of_untagged_calls_in_one_piece() -> None:
    parser = ReplyParser(TOOLS)
    events = parser.feed('{"name": "list_dir", "arguments": {}}\n' * 3000) + parser.finish()
    assert calls_of(events) == [("list_dir", {}, None)] * 3000  # a loop, not one recursion per call


def test_a_piece_full_of_markers_is_read_in_one_pass() -> None:
    # Each stray closing tag is dropped; searched naively (every marker kind again after each one)
    # this is ~10^11 steps and runs into the test timeout.
    parser = ReplyParser(TOOLS)
    events = parser.feed("a</tool_call>" * 100_000) + parser.finish()
    assert text_of(events) == "a" * 100_000


def test_an_untagged_call_closed_by_a_stray_tag_later_in_the_same_piece() -> None:
    events = parse('{"name": "list_dir", "arguments": {}} and more text</tool_call>Answer.', step=1000)
    assert calls_of(events) == [("list_dir", {}, None)]
    assert text_of(events) == "and more textAnswer."
    several = parse(
        '{"name": "list_dir", "arguments": {}}\n{"name": "read_file", "arguments": {}}</tool_call>', step=1000
    )
    assert [name for name, _, _ in calls_of(several)] == ["list_dir", "read_file"]
