"""Newline-delimited JSON-RPC over stdio, hardened.

- stdout is the protocol channel: `claim_stdout()` moves the real fd 1 to a private descriptor
  and points fd 1 (and `sys.stdout`) at stderr, so a stray print from any library, Python or C,
  cannot corrupt the stream.
- Malformed input is answered, not dropped: invalid JSON gets -32700, a non-request -32600, an
  over-long line -32600; the connection keeps serving.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import sys
import threading
from typing import Any

log = logging.getLogger(__name__)

PARSE_ERROR = -32700
INVALID_REQUEST = -32600


def claim_stdout() -> int:
    """Return a private fd for the protocol; from now on fd 1 and `sys.stdout` write to stderr."""
    sys.stdout.flush()
    protocol_fd = os.dup(1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    return protocol_fd


def _error(id_: Any, code: int, message: str) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": id_, "error": {"code": code, "message": message}}


def check_message(message: Any) -> dict[str, Any] | None:
    """The JSON-RPC error answer for a decoded line that is not a valid message, else None."""
    if not isinstance(message, dict):
        return _error(None, INVALID_REQUEST, "Invalid Request: a message must be a JSON object")
    id_ = message.get("id")
    if id_ is not None and not isinstance(id_, str | int):
        return _error(None, INVALID_REQUEST, "Invalid Request: id must be a string or a number")
    if message.get("jsonrpc") != "2.0":
        return _error(id_, INVALID_REQUEST, 'Invalid Request: "jsonrpc" must be "2.0"')
    method = message.get("method")
    if method is None and "id" in message and ("result" in message or "error" in message):
        return None  # a response to one of our requests
    if not isinstance(method, str):
        return _error(id_, INVALID_REQUEST, 'Invalid Request: "method" must be a string')
    params = message.get("params")
    if params is not None and not isinstance(params, dict | list):
        return _error(id_, INVALID_REQUEST, 'Invalid Request: "params" must be an object')
    return None


class StdioTransport:
    """An `acp` message transport over a byte reader and writer."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, max_line_bytes: int) -> None:
        self._reader = reader
        self._writer = writer
        self._max_line = max_line_bytes
        self._lock = asyncio.Lock()
        self._closed = False

    async def send(self, message: dict[str, Any]) -> None:
        data = (json.dumps(message, separators=(",", ":"), ensure_ascii=False) + "\n").encode("utf-8")
        async with self._lock:
            if self._closed:
                raise ConnectionError("transport closed")
            self._writer.write(data)
            await self._writer.drain()

    async def receive(self) -> dict[str, Any] | None:
        while True:
            line = await self._read_line()
            if line is None:
                return None
            line = line.strip()
            if not line:
                continue
            try:
                message = json.loads(line)
            except (ValueError, UnicodeDecodeError) as exc:
                log.warning("unparseable input line (%d bytes): %s", len(line), exc)
                await self._safe_send(_error(None, PARSE_ERROR, f"Parse error: {exc}"))
                continue
            problem = check_message(message)
            if problem is not None:
                await self._safe_send(problem)
                continue
            return dict(message)

    async def close(self) -> None:
        async with self._lock:
            self._closed = True
            self._writer.close()

    async def _safe_send(self, message: dict[str, Any]) -> None:
        try:
            await self.send(message)
        except (ConnectionError, OSError):
            log.debug("could not answer a malformed line: client gone")

    async def _read_line(self) -> bytes | None:
        try:
            return await self._reader.readuntil(b"\n")
        except asyncio.IncompleteReadError as exc:
            return exc.partial or None
        except asyncio.LimitOverrunError:
            await self._discard_line()
            await self._safe_send(
                _error(None, INVALID_REQUEST, f"Invalid Request: message longer than {self._max_line} bytes")
            )
            return b""

    async def _discard_line(self) -> None:
        """Drop the rest of an over-long line without holding it in memory."""
        while True:
            try:
                await self._reader.readuntil(b"\n")
                return
            except asyncio.LimitOverrunError as exc:
                await self._reader.readexactly(exc.consumed)
            except asyncio.IncompleteReadError:
                return


async def open_stdio(protocol_fd: int, max_line_bytes: int, preread: bytes = b"") -> StdioTransport:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=max_line_bytes)
    if preread:
        reader.feed_data(preread)
    protocol = asyncio.StreamReaderProtocol(reader)
    try:
        await loop.connect_read_pipe(lambda: protocol, sys.stdin)
    except ValueError:  # stdin is a regular file: feed it from a thread instead
        _feed_from_thread(loop, reader, sys.stdin.fileno())
    out = os.fdopen(protocol_fd, "wb", buffering=0)
    try:
        transport, write_protocol = await loop.connect_write_pipe(asyncio.streams.FlowControlMixin, out)
    except ValueError:  # stdout is a regular file
        transport, write_protocol = _FileWriteTransport(out), asyncio.streams.FlowControlMixin()
    writer = asyncio.StreamWriter(transport, write_protocol, None, loop)
    return StdioTransport(reader, writer, max_line_bytes)


def _feed_from_thread(loop: asyncio.AbstractEventLoop, reader: asyncio.StreamReader, fd: int) -> None:
    def pump() -> None:
        try:
            while chunk := os.read(fd, 65536):
                loop.call_soon_threadsafe(reader.feed_data, chunk)
        finally:
            loop.call_soon_threadsafe(reader.feed_eof)

    threading.Thread(target=pump, name="punie-stdin", daemon=True).start()


class _FileWriteTransport(asyncio.WriteTransport):
    def __init__(self, out: Any) -> None:
        super().__init__()
        self._out = out
        self._closing = False

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self._out.write(data)

    def is_closing(self) -> bool:
        return self._closing

    def close(self) -> None:
        self._closing = True
        self._out.close()
