"""An editor double that serves `fs/read_text_file` and `fs/write_text_file` (added to `RecordingClient`).

Like an editor, it holds buffers: a read returns the buffer when one is open (unsaved edits
included) and the disk otherwise; a write lands in the buffer, not on disk (the user saves
or rejects it in the editor's review UI). Every fs call is recorded with its raw path, so
tests can check the agent sent absolute paths.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import acp
from acp import schema

from tests.support.acp_client import RecordingClient


class FsClient(RecordingClient):
    def __init__(self, permission: str = "allow_once") -> None:
        super().__init__(permission)
        self.buffers: dict[str, str] = {}
        self.reads: list[tuple[str, int | None, int | None]] = []
        self.writes: list[tuple[str, str]] = []

    def capabilities(self) -> schema.ClientCapabilities:
        return schema.ClientCapabilities(fs=schema.FileSystemCapabilities(read_text_file=True, write_text_file=True))

    def open_buffer(self, path: Path, text: str) -> None:
        self.buffers[str(path)] = text

    async def read_text_file(
        self, session_id: str, path: str, line: int | None = None, limit: int | None = None, **kwargs: Any
    ) -> schema.ReadTextFileResponse:
        self.reads.append((path, line, limit))
        if not Path(path).is_absolute():
            raise acp.RequestError.invalid_params({"path": "must be absolute"})
        if path in self.buffers:
            text = self.buffers[path]
        else:
            try:
                text = Path(path).read_text(encoding="utf-8")
            except OSError as exc:
                raise acp.RequestError.resource_not_found(path) from exc
        lines = text.splitlines(keepends=True)
        start = max((line or 1) - 1, 0)
        return schema.ReadTextFileResponse(content="".join(lines[start : None if limit is None else start + limit]))

    async def write_text_file(
        self, session_id: str, path: str, content: str, **kwargs: Any
    ) -> schema.WriteTextFileResponse:
        self.writes.append((path, content))
        if not Path(path).is_absolute():
            raise acp.RequestError.invalid_params({"path": "must be absolute"})
        self.buffers[path] = content
        return schema.WriteTextFileResponse()
