"""Making text and paths representable: valid Unicode on the wire, unambiguous to a reader.

Two hazards. Some text cannot be encoded at all: file names that are not valid UTF-8 come
back from the OS as lone surrogates (`surrogateescape`), and an editor or a model can send
lone surrogates in JSON; one of those in an update makes the whole prompt fail. Other text
encodes but misleads: a file name holding a newline fakes extra lines in a listing, a bidi
override reorders what the user reads.

`shown_path` escapes, in a path, exactly the characters `Workspace.resolve` refuses (plus the
backslash that starts an escape), so what a listing shows plainly can be passed back and
anything escaped visibly cannot. `shown_text` does the same for short one-line text (titles,
plan entries, matched lines). `encodable` only replaces what cannot be encoded, for content
that must stay as it is (file text the model edits).
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any

from punie_acp.workspace.root import char_problem

REPLACEMENT = "\ufffd"
_SURROGATES = re.compile("[\ud800-\udfff]")
# Bytes that were not valid UTF-8, as `os.fsdecode` (surrogateescape) represents them.
_ESCAPED_BYTES = range(0xDC80, 0xDD00)


def _escape(ch: str) -> str:
    code = ord(ch)
    if code in _ESCAPED_BYTES:
        return f"\\x{code - 0xDC00:02x}"  # the raw byte of a name that is not UTF-8
    if code < 0x100:
        return f"\\x{code:02x}"
    if code < 0x10000:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


def _misleads(ch: str) -> bool:
    """Characters that change how a line reads: controls, line breaks, invisible format characters."""
    return unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Zl", "Zp")


def shown_path(path: str) -> str:
    """A path as the model and the editor see it: plain if usable, with escapes otherwise."""
    if path.isascii() and path.isprintable() and "\\" not in path:
        return path
    out = []
    for ch in path:
        if ch == "\\":
            out.append("\\\\")
        elif not (ch.isascii() and ch.isprintable()) and char_problem(ch):
            out.append(_escape(ch))
        else:
            out.append(ch)
    return "".join(out)


def path_is_plain(path: str) -> bool:
    """Whether `shown_path(path)` is the path itself (the model can name it, the wire can carry it)."""
    return shown_path(path) == path


def shown_text(value: Any, limit: int = 300) -> str:
    """Short one-line text for a title, a plan entry or a matched line: escaped, cut at `limit`."""
    text = value if isinstance(value, str) else str(value)
    if not (text.isascii() and text.isprintable()):
        text = "".join(_escape(ch) if ch != "\t" and _misleads(ch) else ch for ch in text)
    return text if len(text) <= limit else text[:limit] + "…"


def encodable(text: str) -> tuple[str, int]:
    """`text` with every lone surrogate replaced by U+FFFD, and how many were."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return _SURROGATES.subn(REPLACEMENT, text)
    return text, 0


def representable(value: Any) -> Any:
    """A JSON-like value (model-supplied arguments) with every string made encodable."""
    if isinstance(value, str):
        return encodable(value)[0]
    if isinstance(value, dict):
        return {representable(k): representable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [representable(v) for v in value]
    return value
