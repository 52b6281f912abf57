"""Representable text: escapes that keep a path or a line unambiguous, and replacement for what cannot encode."""

from __future__ import annotations

import os

from punie_acp.workspace.text import encodable, path_is_plain, representable, shown_path, shown_text


def test_usable_paths_are_shown_as_they_are() -> None:
    for path in ("src/app.py", "docs/café.md", "中文/名字.txt", "a b/c-d_e.f"):
        assert shown_path(path) == path and path_is_plain(path)


def test_paths_the_resolver_refuses_are_shown_escaped() -> None:
    assert shown_path(os.fsdecode(b"bad\xffname")) == "bad\\xffname"  # not UTF-8
    assert shown_path("two\nlines") == "two\\x0alines"
    assert shown_path("rtl\u202eyp.exe") == "rtl\\u202eyp.exe"
    assert shown_path("zero\u200bwidth") == "zero\\u200bwidth"
    assert shown_path("a\u2215b") == "a\\u2215b"  # looks like a slash
    assert shown_path("back\\slash") == "back\\\\slash"  # a literal backslash cannot pass for an escape
    assert not path_is_plain("two\nlines")


def test_short_text_is_one_encodable_line() -> None:
    assert shown_text("a\tb\r\nc\x1b[0m\u2028d\ud800") == "a\tb\\x0d\\x0ac\\x1b[0m\\u2028d\\ud800"
    assert shown_text("x" * 10, limit=4) == "xxxx…"
    assert shown_text(42) == "42"
    shown_text("\udcff\ud83d").encode("utf-8")


def test_only_what_cannot_encode_is_replaced() -> None:
    assert encodable("plain\n\u202e") == ("plain\n\u202e", 0)
    assert encodable("a\ud800b\udfff") == ("a\ufffdb\ufffd", 2)
    assert representable({"k\ud800": ["v\udc80", 1, {"n": None}]}) == {"k\ufffd": ["v\ufffd", 1, {"n": None}]}
