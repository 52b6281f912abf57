"""Positions between people (1-based line and column, counted in characters) and LSP (0-based, UTF-16 units)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, unquote, urlsplit


def utf16_column(line_text: str, column: int) -> int:
    """The LSP `character` for a 1-based character column of `line_text`."""
    prefix = line_text[: max(0, column - 1)]
    return len(prefix.encode("utf-16-le")) // 2


def char_column(line_text: str, character: int) -> int:
    """The 1-based character column for an LSP `character` (UTF-16 units) in `line_text`."""
    units = 0
    for index, ch in enumerate(line_text):
        if units >= character:
            return index + 1
        units += 2 if ord(ch) > 0xFFFF else 1
    return len(line_text) + 1


def line_of(text: str, line: int) -> str:
    """Line `line` (0-based) of `text` without its line break; '' past the end."""
    lines = text.splitlines()
    return lines[line] if 0 <= line < len(lines) else ""


@dataclass(frozen=True)
class Position:
    line: int  # 0-based
    character: int  # UTF-16 units

    def as_lsp(self) -> dict[str, int]:
        return {"line": self.line, "character": self.character}


def to_lsp(text: str, line: int, column: int) -> Position:
    """1-based line and column (characters) in `text` as an LSP position; ValueError when outside it."""
    lines = text.splitlines()
    if not 1 <= line <= max(1, len(lines)):
        raise ValueError(f"line {line} is outside the file (it has {len(lines)} lines)")
    current = lines[line - 1] if lines else ""
    if not 1 <= column <= len(current) + 1:
        raise ValueError(f"column {column} is outside line {line} (it has {len(current)} characters)")
    return Position(line - 1, utf16_column(current, column))


def find_symbol(text: str, symbol: str, occurrence: int = 1) -> Position:
    """Where `symbol` (a name, or `Class.method` for its last part) occurs as a whole word; definitions first."""
    name = symbol.rsplit(".", 1)[-1].strip()
    if not re.fullmatch(r"\w{1,200}", name):
        raise ValueError(f"{symbol!r} is not a name; give path + line + column instead")
    word = re.compile(rf"(?<!\w){re.escape(name)}(?!\w)")
    defining = re.compile(
        rf"^\s*(?:async\s+)?(?:def|class|fn|func|function|struct|enum|trait|type|interface)\s+{re.escape(name)}\b"
    )
    assigned = re.compile(rf"^\s*{re.escape(name)}\s*(?::[^=]*)?=")
    hits: list[tuple[int, Position]] = []
    for number, current in enumerate(text.splitlines()):
        for match in word.finditer(current):
            rank = 0 if defining.match(current) else 1 if assigned.match(current) else 2
            hits.append((rank, Position(number, utf16_column(current, match.start() + 1))))
    if not hits:
        raise ValueError(f"{name!r} does not occur in the file")
    hits.sort(key=lambda hit: hit[0])
    return hits[min(len(hits), max(1, occurrence)) - 1][1]


def word_at(text: str, line: int, column: int) -> str:
    """The name at a 1-based line and column ('' when there is none)."""
    current = line_of(text, line - 1)
    for match in re.finditer(r"\w+", current):
        if match.start() < column <= match.end() + 1:
            return match.group()
    return ""


def path_to_uri(path: Path) -> str:
    return "file://" + quote(path.as_posix(), safe="/")


def uri_to_path(uri: str) -> Path | None:
    """The local path of a `file:` URI; None for anything else (a server's virtual documents)."""
    if not isinstance(uri, str) or not uri.startswith("file:"):
        return None
    parts = urlsplit(uri)
    if parts.netloc not in ("", "localhost"):
        return None
    path = unquote(parts.path)
    if "\x00" in path or not path.startswith("/"):
        return None
    return Path(path)
