"""Put one agent's entry under `agent_servers` in a JSONC settings text, changing nothing else.

The new text is the old one with one or two splices: the entry's value replaced, or a member
inserted. Then it is read back twice (the position-keeping reader and plain `json` after stripping
comments) and compared with what was meant: the entry as intended, every other setting and agent
as before. Anything unexpected refuses the merge (`MergeRefused`, one line) instead of guessing.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from punie_acp.editor_setup.jsonc import Document, JsoncError, Member, Node, parse, plain_value, where

SERVERS = "agent_servers"
EntryFor = Callable[[Any], dict[str, Any]]  # the entry to write, given the one there now (or None)


class MergeRefused(Exception):
    """The text cannot be merged safely; the message is one line saying why."""


@dataclass(frozen=True)
class Splice:
    at: int
    end: int  # == at for an insertion
    text: str


def fresh_text(name: str, entry: dict[str, Any]) -> str:
    """A whole settings file holding only this agent (also the snippet printed for copying)."""
    return json.dumps({SERVERS: {name: entry}}, indent=2, ensure_ascii=False) + "\n"


def merge(text: str, name: str, entry_for: EntryFor) -> tuple[str, dict[str, Any]]:
    """(the new text, the entry written); raises `MergeRefused`."""
    try:
        doc = parse(text)
        before = plain_value(text) if doc.root is not None else None
    except (JsoncError, ValueError) as exc:
        raise MergeRefused(f"it is not valid JSON (with comments): {exc}") from None
    if doc.root is None:
        entry = entry_for(None)
        separator = "" if not text or text.endswith("\n") else "\n"
        return text + separator + fresh_text(name, entry), entry
    splices, entry = _plan(doc, name, entry_for)
    new = _apply(text, splices)
    _verify(before, new, name, entry)
    return new, entry


def _plan(doc: Document, name: str, entry_for: EntryFor) -> tuple[list[Splice], dict[str, Any]]:
    root = doc.root
    assert root is not None
    if root.kind != "object":
        raise MergeRefused("its top level is not an object {…}")
    servers = _only(doc, root, SERVERS)
    if servers is None:
        entry = entry_for(None)
        return _insert(doc, root, SERVERS, {name: entry}), entry
    if servers.value.kind != "object":
        raise MergeRefused(f'"{SERVERS}" at {where(doc.text, servers.key_start)} is not an object {{…}}')
    current = _only(doc, servers.value, name)
    if current is None:
        entry = entry_for(None)
        return _insert(doc, servers.value, name, entry), entry
    entry = entry_for(current.value.value)
    if current.value.value == entry:
        return [], entry
    indent = _line_indent(doc.text, current.key_start)
    rendered = _render(entry, indent or "", _unit(doc.text), inline=indent is None)
    return [Splice(current.value.start, current.value.end, rendered)], entry


def _only(doc: Document, node: Node, key: str) -> Member | None:
    found = node.named(key)
    if len(found) > 1:
        raise MergeRefused(f'"{key}" appears {len(found)} times (at {where(doc.text, found[1].key_start)})')
    return found[0] if found else None


def _insert(doc: Document, obj: Node, key: str, value: Any) -> list[Splice]:
    """Splices adding `"key": value` as the object's last member."""
    text, unit = doc.text, _unit(doc.text)
    if not obj.members:
        outer = _line_indent(text, obj.start) or ""
        inner = outer + unit
        member = f"{json.dumps(key, ensure_ascii=False)}: {_render(value, inner, unit, inline=False)}"
        closing = text.rfind("}", obj.start, obj.end)
        body = text[obj.start + 1 : closing]
        # `{}` becomes a block; what was inside (whitespace, comments) stays before the new member.
        return [Splice(obj.start + 1, obj.start + 1, f"\n{inner}{member}" + ("" if body.strip() else f"\n{outer}"))]
    last = obj.members[-1]
    indent = _line_indent(text, last.key_start)
    inline = indent is None
    member = f"{json.dumps(key, ensure_ascii=False)}: {_render(value, indent or '', unit, inline=inline)}"
    after_value = last.comma_end if last.comma_end is not None else last.value.end
    comma = [] if last.comma_end is not None else [Splice(last.value.end, last.value.end, ",")]
    if inline:
        return [*comma, Splice(after_value, after_value, f" {member}")]
    # Keep a comment that ends the last member's line with that member.
    eol = _end_of_trailing_comment(text, after_value)
    return [*comma, Splice(eol, eol, f"\n{indent}{member}")]


_TRAILING_LINE_COMMENT = re.compile(r"[ \t]*(?://[^\n]*|/\*(?:[^*\n]|\*(?!/))*\*/[ \t]*)*(?=\r?\n)")


def _end_of_trailing_comment(text: str, pos: int) -> int:
    found = _TRAILING_LINE_COMMENT.match(text, pos)
    if found is None:
        return pos
    end = found.end()
    return end if text[pos:end].strip() else pos


def _line_indent(text: str, pos: int) -> str | None:
    """The whitespace before `pos` on its line, or None when something else precedes it there."""
    start = text.rfind("\n", 0, pos) + 1
    prefix = text[start:pos].lstrip("\ufeff")
    return prefix if not prefix.strip() else None


def _unit(text: str) -> str:
    """The file's indentation step: a tab, or the smallest run of leading spaces (2 if none)."""
    widths = [len(m.group(1)) for m in re.finditer(r"\n( +)\S", text)]
    if re.search(r"\n\t+\S", text) and not widths:
        return "\t"
    return " " * min(min(widths, default=2), 8)


def _render(value: Any, indent: str, unit: str, *, inline: bool) -> str:
    if inline:
        return json.dumps(value, ensure_ascii=False)
    return json.dumps(value, indent=unit, ensure_ascii=False).replace("\n", "\n" + indent)


def _apply(text: str, splices: list[Splice]) -> str:
    # From the end backwards; splices at one position land in list order.
    for splice in reversed(sorted(splices, key=lambda s: s.at)):
        text = text[: splice.at] + splice.text + text[splice.end :]
    return text


def _verify(before: Any, new: str, name: str, entry: dict[str, Any]) -> None:
    """Read the result back both ways; refuse unless exactly the intended change was made."""
    try:
        after = plain_value(new)
        tree = parse(new).root
    except (JsoncError, ValueError) as exc:
        raise MergeRefused(f"the merged text would not read back ({exc}); nothing was changed") from None
    if tree is None or tree.value != after or not isinstance(after, dict) or not isinstance(before, dict):
        raise MergeRefused("the merged text reads differently two ways; nothing was changed")
    servers = after.get(SERVERS)
    if not isinstance(servers, dict) or servers.get(name) != entry:
        raise MergeRefused(f"the merged text does not hold the intended {name} entry; nothing was changed")
    others_after = {k: v for k, v in servers.items() if k != name}
    old_servers = before.get(SERVERS, {})
    others_before = {k: v for k, v in old_servers.items() if k != name} if isinstance(old_servers, dict) else None
    rest_after = {k: v for k, v in after.items() if k != SERVERS}
    rest_before = {k: v for k, v in before.items() if k != SERVERS}
    if others_after != others_before or rest_after != rest_before:
        raise MergeRefused("the merged text would change other settings; nothing was changed")
