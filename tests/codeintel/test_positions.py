"""1-based character columns against LSP's 0-based UTF-16 positions, and finding a symbol."""

from __future__ import annotations

from pathlib import Path

import pytest

from punie_acp.tools.lsp.positions import (
    Position,
    char_column,
    find_symbol,
    path_to_uri,
    to_lsp,
    uri_to_path,
    utf16_column,
    word_at,
)

LINE = "s = 'é😀'; name = 1"  # é is one UTF-16 unit, 😀 two


def test_columns_count_utf16_units_after_astral_characters() -> None:
    column = LINE.index("name") + 1  # 1-based, in characters
    assert utf16_column(LINE, column) == column  # one more unit for 😀, one less for 1-based
    assert char_column(LINE, utf16_column(LINE, column)) == column
    assert utf16_column("ab", 1) == 0 and char_column("ab", 0) == 1


def test_to_lsp_refuses_positions_outside_the_file() -> None:
    text = "a\nbc\n"
    assert to_lsp(text, 2, 3) == Position(1, 2)
    with pytest.raises(ValueError, match="line 3"):
        to_lsp(text, 3, 1)
    with pytest.raises(ValueError, match="column 4"):
        to_lsp(text, 2, 4)


def test_find_symbol_prefers_the_definition_and_counts_utf16() -> None:
    text = f"{LINE}\nprint(name)\ndef name() -> None: ...\n"
    assert find_symbol(text, "name") == Position(2, 4)
    assert find_symbol(text, "Cls.name") == Position(2, 4)
    assert find_symbol("x = 'é😀'; name\n", "name") == Position(0, 11)  # 10 characters, 11 units
    with pytest.raises(ValueError, match="not a name"):
        find_symbol(text, "a b")
    with pytest.raises(ValueError, match="does not occur"):
        find_symbol(text, "absent")


def test_uris_round_trip_and_only_local_files_count() -> None:
    path = Path("/tmp/a dir/ü#x.py")
    assert uri_to_path(path_to_uri(path)) == path
    assert uri_to_path("untitled:foo") is None
    assert uri_to_path("file://evil.example/etc/passwd") is None
    assert uri_to_path("file:///etc/%00passwd") is None


def test_word_at_a_position() -> None:
    text = "a = total_area(x)\n"
    assert word_at(text, 1, 5) == "total_area"
    assert word_at(text, 1, 15) == "total_area"  # just after the name still names it
    assert word_at(text, 1, 3) == ""
    assert word_at(text, 9, 1) == ""
