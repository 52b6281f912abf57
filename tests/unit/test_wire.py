from __future__ import annotations

import contextlib
import json
import math
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from punie_acp.acp.wire import (
    MAX_ARRAY_ITEMS,
    MAX_DEPTH,
    EncodeFailure,
    OutOfLimits,
    ParseFailure,
    decode_line,
    encode_message,
)


def _strict_loads(data: bytes) -> Any:
    def refuse(name: str) -> Any:
        raise AssertionError(f"{name} is not JSON")

    assert data.endswith(b"\n") and data.count(b"\n") == 1
    return json.loads(data.decode("utf-8"), parse_constant=refuse)


@pytest.mark.parametrize(
    "line",
    [
        b"[" * 100_000,
        b'{"a":' * 100_000,
        b'{"jsonrpc":"2.0","id":1,"method":"m","params":{"x":NaN}}',
        b'{"x":Infinity}',
        b'{"x":-Infinity}',
        b'{"method":"m\xff"}',  # not UTF-8
        b'{"method":"a\x00b"}',  # a raw control character inside a string
        b"\xff\xfe{\x00}\x00",  # UTF-16 with its BOM: not guessed, refused
        b"not json",
    ],
)
def test_unreadable_lines_are_parse_failures(line: bytes) -> None:
    with pytest.raises(ParseFailure):
        decode_line(line)


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        (b'{"id":3,"params":{"x":1e999}}', "number out of range"),
        (b'{"id":3,"params":{"x":-1e400}}', "number out of range"),
        (b'{"id":3,"params":{"x":' + b"9" * 100_000 + b"}}", "integer of 100000 digits"),
        (b'{"id":3,"params":' + b"[" * MAX_DEPTH + b"]" * MAX_DEPTH + b"}", f"deeper than {MAX_DEPTH}"),
        (b'{"id":3,"params":{"prompt":[' + b",".join([b"1"] * (MAX_ARRAY_ITEMS + 1)) + b"]}}", "an array of 10001"),
    ],
)
def test_lines_beyond_the_limits_still_give_their_id(line: bytes, reason: str) -> None:
    with pytest.raises(OutOfLimits, match=reason) as caught:
        decode_line(line)
    assert caught.value.message["id"] == 3


def test_accepted_oddities() -> None:
    assert decode_line(b'\xef\xbb\xbf{"a":1}\r\n') == {"a": 1}  # BOM and CRLF
    assert decode_line(b'{"a":1,"a":2}') == {"a": 2}  # duplicate keys: the last wins, as everywhere in Python
    assert decode_line(b'{"s":"\\ud800"}') == {"s": "\ud800"}  # a lone surrogate escape is valid JSON text
    nested = b"[" * (MAX_DEPTH - 1) + b"]" * (MAX_DEPTH - 1)
    assert decode_line(b'{"x":' + nested + b"}") is not None


def test_out_is_strict_json_in_valid_utf8() -> None:
    data = encode_message({"nan": math.nan, "inf": [math.inf, -math.inf], "s": "a\ud800b\udfff", "ok": "é😀"})
    assert _strict_loads(data) == {"nan": None, "inf": [None, None], "s": "a\ufffdb\ufffd", "ok": "é😀"}


def test_a_message_that_is_not_json_at_all_is_refused() -> None:
    with pytest.raises(EncodeFailure):
        encode_message({"x": object()})
    cycle: dict[str, Any] = {}
    cycle["self"] = cycle
    with pytest.raises(EncodeFailure):
        encode_message(cycle)


_hostile_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()  # NaN and both infinities included
    | st.text(alphabet=st.characters(codec=None, exclude_categories=())),  # lone surrogates included
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(_hostile_values)
def test_anything_encodes_to_one_strict_line(value: Any) -> None:
    decoded = _strict_loads(encode_message({"jsonrpc": "2.0", "method": "m", "params": value}))
    assert decoded["method"] == "m"


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200))
def test_any_bytes_decode_or_fail_cleanly(line: bytes) -> None:
    with contextlib.suppress(ParseFailure, OutOfLimits):
        decode_line(line.replace(b"\n", b""))
