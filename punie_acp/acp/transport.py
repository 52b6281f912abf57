"""Newline-delimited JSON-RPC over stdio, hardened.

- stdout is the protocol channel: `claim_stdout()` moves the real fd 1 to a private descriptor
  and points fd 1 (and `sys.stdout`) at stderr, so a stray print from any library, Python or C,
  cannot corrupt the stream.
- Every message the SDK sends passes through `StdioTransport.send`, the one place that writes:
  strict JSON (see `wire.py`), conformed for strict clients (see `interop.py`).
- Every line read gets the answer JSON-RPC 2.0 requires and the connection keeps serving:
  unreadable JSON -32700, a non-request or a line beyond the limits -32600 (with the id when it
  can be read), a batch one -32600 per request in it; a notification, even a malformed or unknown
  one, gets nothing. Malformed responses from the client fail the request they answer instead of
  reaching the SDK (which would stop reading on them); responses to nothing are dropped.
- At most `max_in_flight` requests run at once; more are refused at once rather than queued.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sys
import threading
from collections import Counter
from typing import Any

from punie_acp.acp.interop import conform
from punie_acp.acp.wire import EncodeFailure, OutOfLimits, ParseFailure, decode_line, encode_message

log = logging.getLogger(__name__)

PARSE_ERROR = -32700
INVALID_REQUEST = -32600
INTERNAL_ERROR = -32603
# Far more than any editor keeps open (a prompt per session plus a few quick requests).
MAX_IN_FLIGHT = 256
# At the end of input, how long requests already running may still take to answer.
EOF_GRACE_S = 2.0
# An error answer longer than this has its `data` cut down to the first few errors.
MAX_ERROR_BYTES = 64 * 1024
ERRORS_SHOWN = 20
# At the limit, event-loop turns given to running requests before one more is refused.
YIELDS_FOR_ROOM = 64
# Notifications the agent acts on, with the string parameters each needs; extension
# notifications (`_name`) go to the agent as well. Anything else is dropped quietly.
AGENT_NOTIFICATIONS: dict[str, tuple[str, ...]] = {"session/cancel": ("sessionId",)}


def claim_stdout() -> int:
    """Return a private fd for the protocol; from now on fd 1 and `sys.stdout` write to stderr."""
    sys.stdout.flush()
    protocol_fd = os.dup(1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    return protocol_fd


def _error(id_: Any, code: int, message: str) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": id_, "error": {"code": code, "message": message}}


def valid_id(id_: Any) -> bool:
    """JSON-RPC ids are strings, numbers or null (a JSON `true` is not a number, whatever Python says)."""
    return id_ is None or isinstance(id_, str) or (isinstance(id_, int | float) and not isinstance(id_, bool))


def is_response(message: dict[str, Any]) -> bool:
    return "method" not in message and "id" in message and ("result" in message or "error" in message)


def check_message(message: Any) -> dict[str, Any] | None:
    """The JSON-RPC error answer for a decoded line that is not a valid message, else None."""
    if not isinstance(message, dict):
        return _error(None, INVALID_REQUEST, "Invalid Request: a message must be a JSON object")
    id_ = message.get("id")
    if not valid_id(id_):
        return _error(None, INVALID_REQUEST, "Invalid Request: id must be a string, a number or null")
    if message.get("jsonrpc") != "2.0":
        return _error(id_, INVALID_REQUEST, 'Invalid Request: "jsonrpc" must be "2.0"')
    if is_response(message):
        return None  # a response to one of our requests
    if not isinstance(message.get("method"), str):
        return _error(id_, INVALID_REQUEST, 'Invalid Request: "method" must be a string')
    params = message.get("params")
    if params is not None and not isinstance(params, dict | list):
        return _error(id_, INVALID_REQUEST, 'Invalid Request: "params" must be an object')
    return None


def _shown(id_: Any) -> str:
    """An id for the log: quoted (no forged lines) and short (ids can be megabytes)."""
    return repr(id_)[:80]


def _shrunk_error(message: dict[str, Any]) -> dict[str, Any]:
    """An error answer whose `data` echoes too much (pydantic lists every bad item), cut down."""
    error = dict(message["error"]) if isinstance(message["error"], dict) else {}
    data = error.pop("data", None)
    errors = data.get("errors") if isinstance(data, dict) else None
    if isinstance(errors, list):
        error["data"] = {"errors": [_short(e) for e in errors[:ERRORS_SHOWN]], "omitted": len(errors) - ERRORS_SHOWN}
    error["message"] = str(error.get("message", "Error"))[:1000]
    return {"jsonrpc": "2.0", "id": message["id"], "error": error}


def _short(item: Any) -> Any:
    """One pydantic error without the (possibly huge) input it echoes."""
    return {k: v for k, v in item.items() if k != "input"} if isinstance(item, dict) else None


def response_problem(message: dict[str, Any]) -> str | None:
    """What is wrong with a response from the client, or None."""
    if ("result" in message) == ("error" in message):
        return "a response needs exactly one of result and error"
    if "error" in message:
        error = message["error"]
        if not isinstance(error, dict):
            return "error must be an object"
        code = error.get("code")
        if not isinstance(code, int) or isinstance(code, bool):
            return "error.code must be an integer"
        if not isinstance(error.get("message"), str):
            return "error.message must be a string"
    return None


class StdioTransport:
    """An `acp` message transport over a byte reader and writer."""

    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        max_line_bytes: int,
        max_in_flight: int = MAX_IN_FLIGHT,
    ) -> None:
        self._reader = reader
        self._writer = writer
        self._max_line = max_line_bytes
        self._max_in_flight = max_in_flight
        self._lock = asyncio.Lock()
        self._closed = False
        self._in_flight: Counter[Any] = Counter()  # ids of client requests not yet answered
        self._none_in_flight = asyncio.Event()
        self._none_in_flight.set()
        self._awaiting: set[Any] = set()  # ids of our requests the client has not answered

    async def send(self, message: dict[str, Any]) -> None:
        message = conform(message)
        try:
            data = encode_message(message)
        except EncodeFailure as exc:
            if not is_response(message):
                raise
            log.error("answer to request %s cannot be written as JSON: %s", _shown(message["id"]), exc)
            data = encode_message(_error(message["id"], INTERNAL_ERROR, "Internal error: the answer is not JSON"))
        if len(data) > MAX_ERROR_BYTES and is_response(message) and "error" in message:
            data = encode_message(_shrunk_error(message))
        if is_response(message):
            self._answered(message["id"])
        elif "id" in message:
            self._awaiting.add(message["id"])
        await self._write(data)

    async def receive(self) -> dict[str, Any] | None:
        while True:
            line = await self._read_line()
            if line is None:
                await self._let_running_requests_answer()
                return None
            if not line.strip():
                continue
            message = await self._admit(line)
            if message is not None:
                return message

    async def _let_running_requests_answer(self) -> None:
        """At the end of input, give the requests already running a moment to answer before the
        connection cancels them: a `session/list` sent just before the client closed its end reads
        the session store on another thread. A turn still running after that is cancelled, as before."""
        if self._in_flight:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._none_in_flight.wait(), EOF_GRACE_S)

    async def close(self) -> None:
        async with self._lock:
            self._closed = True
            self._writer.close()

    async def _admit(self, line: bytes) -> dict[str, Any] | None:
        """The message to hand to the SDK, or None once the line has been answered (or dropped)."""
        try:
            message = decode_line(line)
        except ParseFailure as exc:
            log.warning("unparseable input line (%d bytes): %s", len(line), exc)
            await self._answer(_error(None, PARSE_ERROR, f"Parse error: {exc}"))
            return None
        except OutOfLimits as exc:
            log.warning("input line beyond limits (%d bytes): %s", len(line), exc)
            return await self._refuse(exc.message, f"Invalid Request: {exc}")
        if isinstance(message, list):
            await self._answer_batch(message)
            return None
        problem = check_message(message)
        if problem is not None:
            if isinstance(message, dict) and "id" not in message and isinstance(message.get("method"), str):
                log.info("dropped a malformed %r notification", message["method"][:100])
                return None
            await self._answer(problem)
            return None
        valid: dict[str, Any] = message
        if is_response(valid):
            return self._take_response(valid)
        if "id" not in valid:
            return self._take_notification(valid)
        if not await self._room_for_one_more():
            log.warning("refused request %s: %d already in flight", _shown(valid["id"]), self._max_in_flight)
            await self._answer(
                _error(
                    valid["id"],
                    INTERNAL_ERROR,
                    f"Too many requests in flight ({self._max_in_flight}); wait for answers before sending more",
                )
            )
            return None
        self._in_flight[valid["id"]] += 1
        self._none_in_flight.clear()
        return valid

    async def _room_for_one_more(self) -> bool:
        """Whether another request may run; at the limit, first let the running ones make progress.

        Lines already buffered are read without yielding, so a client that pipelines many quick
        requests would otherwise be refused before any of them had a chance to finish. Waiting for
        room outright could deadlock: the requests running may be waiting for responses that are
        still unread behind this line.
        """
        for _ in range(YIELDS_FOR_ROOM):
            if self._in_flight.total() < self._max_in_flight:
                return True
            await asyncio.sleep(0)
        return self._in_flight.total() < self._max_in_flight

    async def _refuse(self, message: Any, reason: str) -> dict[str, Any] | None:
        """Answer a line that is JSON but beyond the limits, with its id where it has one."""
        if isinstance(message, dict) and "id" in message and valid_id(message["id"]):
            if is_response(message):  # fail the request it answers rather than leave it waiting
                return self._take_response(message, reason)
            await self._answer(_error(message["id"], INVALID_REQUEST, reason))
        elif not (isinstance(message, dict) and isinstance(message.get("method"), str)):
            await self._answer(_error(None, INVALID_REQUEST, reason))
        return None

    def _take_response(self, message: dict[str, Any], problem: str | None = None) -> dict[str, Any] | None:
        id_ = message["id"]
        if id_ not in self._awaiting:
            log.info("dropped a response to no request of ours (id %s)", _shown(id_))
            return None
        problem = problem if problem is not None else response_problem(message)
        if problem is not None:
            log.warning("malformed response from the client to request %s: %s", _shown(id_), problem)
            message = _error(id_, INTERNAL_ERROR, f"Malformed response from the client: {problem}")
        self._awaiting.discard(id_)
        return message

    def _take_notification(self, message: dict[str, Any]) -> dict[str, Any] | None:
        method: str = message["method"]
        if method.startswith("_"):
            return message
        needed = AGENT_NOTIFICATIONS.get(method)
        params = message.get("params")
        if needed is None:
            log.debug("ignored notification %r", method[:100])
            return None
        if not isinstance(params, dict) or not all(isinstance(params.get(name), str) for name in needed):
            log.info("dropped a %r notification without %s", method, ", ".join(needed))
            return None
        return message

    async def _answer_batch(self, batch: list[Any]) -> None:
        # ACP has no batches: each request in one is refused with its own id, per JSON-RPC.
        if not batch:
            await self._answer(_error(None, INVALID_REQUEST, "Invalid Request: empty batch"))
            return
        answers: list[dict[str, Any]] = []
        for item in batch:
            problem = check_message(item)
            if problem is not None:
                if not (isinstance(item, dict) and "id" not in item and isinstance(item.get("method"), str)):
                    answers.append(problem)
            elif "id" in item and not is_response(item):
                answers.append(
                    _error(item["id"], INVALID_REQUEST, "Invalid Request: batches are not supported; send one per line")
                )
        if answers:
            await self._answer(answers)

    def _answered(self, id_: Any) -> None:
        if self._in_flight[id_] > 1:
            self._in_flight[id_] -= 1
        else:
            self._in_flight.pop(id_, None)
        if not self._in_flight:
            self._none_in_flight.set()

    async def _answer(self, message: dict[str, Any] | list[dict[str, Any]]) -> None:
        try:
            await self._write(encode_message(message))
        except (ConnectionError, OSError):
            log.debug("could not answer a malformed line: client gone")

    async def _write(self, data: bytes) -> None:
        async with self._lock:
            if self._closed:
                raise ConnectionError("transport closed")
            self._writer.write(data)
            await self._writer.drain()

    async def _read_line(self) -> bytes | None:
        try:
            return await self._reader.readuntil(b"\n")
        except asyncio.IncompleteReadError as exc:
            return exc.partial or None
        except asyncio.LimitOverrunError:
            await self._discard_line()
            await self._answer(
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
