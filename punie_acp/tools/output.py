"""Command output as the model sees it: colour codes and redraws removed, long output capped."""

from __future__ import annotations

import re

OUTPUT_HEAD = 4_000  # bytes of the beginning of the output kept for the model
OUTPUT_TAIL = 12_000  # bytes of the end kept (errors and summaries usually come last)

_ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[@-Z\\-_]")


def clean_text(text: str) -> str:
    """Output as a reader sees it: no colour codes, carriage-return redraws collapsed."""
    text = _ANSI.sub("", text)
    if "\r" not in text:
        return text
    lines = []
    for line in text.split("\n"):
        parts = [p for p in line.rstrip("\r").split("\r") if p]
        lines.append(parts[-1] if parts else "")
    return "\n".join(lines)


class OutputCap:
    """Keeps the first `head` and the last `tail` bytes of a stream and says what it cut."""

    def __init__(self, head: int, tail: int) -> None:
        self._head_limit = head
        self._tail_limit = tail
        self._head = bytearray()
        self._tail = bytearray()
        self.total = 0
        self.lines = 0

    def feed(self, data: bytes) -> None:
        self.total += len(data)
        self.lines += data.count(b"\n")
        room = self._head_limit - len(self._head)
        if room > 0:
            self._head += data[:room]
            data = data[room:]
        if data and self._tail_limit > 0:
            self._tail += data
            if len(self._tail) > self._tail_limit:
                del self._tail[: len(self._tail) - self._tail_limit]

    @property
    def cut(self) -> int:
        return self.total - len(self._head) - len(self._tail)

    def text(self) -> str:
        if self.cut == 0:
            return clean_text(bytes(self._head + self._tail).decode("utf-8", errors="replace"))
        head, tail = bytes(self._head), bytes(self._tail)
        # Cut at line ends where that loses little, so no half lines are shown.
        end = head.rfind(b"\n")
        if end >= len(head) // 2:
            head = head[: end + 1]
        start = tail.find(b"\n")
        if 0 <= start < len(tail) // 2:
            tail = tail[start + 1 :]
        cut_bytes = self.total - len(head) - len(tail)
        cut_lines = self.lines - head.count(b"\n") - tail.count(b"\n")
        if not head:
            marker = f"[… first {cut_bytes} bytes ({cut_lines} lines) not shown …]\n"
        else:
            marker = f"\n[… {cut_bytes} bytes ({cut_lines} lines) cut from the middle of {self.total} bytes …]\n"
        return clean_text(head.decode("utf-8", "replace") + marker + tail.decode("utf-8", "replace"))
