"""One language server process and the JSON-RPC conversation with it (pygls protocol, our framing).

The server runs under the process supervisor (`tools.children`), so it dies with punie however
punie ends. pygls's `BaseLanguageClient` supplies the protocol: typed notifications and requests
to the server (lsprotocol types, serialised by its converter), handlers for what the server asks
of us (`workspace/configuration`, capability registration, progress). The reading side is ours,
because the server is fed hostile code and its answers are not trusted: a header line or body
past a limit ends the connection (instead of buffering without bound), a body that is not JSON
is logged and skipped, and responses are kept as plain JSON (each tool validates the shape it
reads) rather than structured strictly (a server's harmless extension must not fail a call).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import subprocess
import uuid
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import anyio
from pygls.lsp._base_client import BaseLanguageClient

from punie_acp.tools.children import Supervised, start_supervised

log = logging.getLogger(__name__)
# pygls logs every message body at INFO (file contents included): keep that out of punie's log.
logging.getLogger("pygls").setLevel(logging.WARNING)

MAX_HEADER_BYTES = 1024
MAX_MESSAGE_BYTES = 16 * 1024 * 1024
KILL_GRACE = 1.0


class ServerGone(Exception):
    """The server exited, was stopped, or broke the protocol."""


class RequestFailed(Exception):
    """The server answered a request with an error."""


class _PipeWriter:
    """pygls's writer interface over our end of the server's stdin (writes never block the loop)."""

    def __init__(self, fd: int) -> None:
        self._fd = fd
        os.set_blocking(fd, False)
        self._pending = bytearray()
        self._closed = False

    def write(self, data: bytes) -> None:
        if self._closed:
            raise BrokenPipeError("the language server's stdin is closed")
        if len(self._pending) + len(data) > MAX_MESSAGE_BYTES:
            self.close()  # the server stopped reading: nothing sent to it is going anywhere
            raise BrokenPipeError("the language server does not read its input")
        self._pending += data
        self._flush()

    def _flush(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            while self._pending:
                sent = os.write(self._fd, self._pending)
                del self._pending[:sent]
        except BlockingIOError:
            loop.add_writer(self._fd, self._on_writable)
            return
        except OSError:
            self.close()
            return
        loop.remove_writer(self._fd)

    def _on_writable(self) -> None:
        self._flush()

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._pending.clear()
            with contextlib.suppress(RuntimeError):  # no loop any more: nothing to remove
                asyncio.get_running_loop().remove_writer(self._fd)
            os.close(self._fd)


class Connection:
    """A started server: send notifications, make requests with a time limit, read what it publishes."""

    def __init__(self, name: str, on_notification: Callable[[str, Any], None]) -> None:
        self.name = name
        self.client = BaseLanguageClient("punie", "1")
        # Plain JSON both ways: tools pass dicts or lsprotocol objects, and read results defensively.
        self.client.protocol.get_result_type = lambda method: None  # type: ignore[method-assign]
        self.client.protocol.get_message_type = lambda method: None  # type: ignore[method-assign]
        self._on_notification = on_notification
        self._supervised: Supervised | None = None
        self._writer: _PipeWriter | None = None
        self._futures: dict[str, asyncio.Future[Any]] = {}
        self._reader: asyncio.Task[None] | None = None
        self.closed = asyncio.Event()
        self.why_closed = ""

    async def start(self, argv: Sequence[str], cwd: Path, env: Mapping[str, str]) -> None:
        read_end, write_end = os.pipe()
        try:
            with anyio.CancelScope(shield=True):
                self._supervised = await start_supervised(
                    argv, cwd=cwd, env=env, grace=KILL_GRACE, stdout=subprocess.PIPE,
                    stderr=subprocess.DEVNULL, stdin=read_end,
                )  # fmt: skip
        except BaseException:
            os.close(write_end)
            raise
        finally:
            os.close(read_end)
        self._writer = _PipeWriter(write_end)
        self.client.protocol.set_writer(self._writer)
        self._reader = asyncio.get_running_loop().create_task(self._read_loop())

    @property
    def alive(self) -> bool:
        return not self.closed.is_set()

    def notify(self, method: str, params: Any) -> None:
        if not self.alive:
            raise ServerGone(self.why_closed or f"{self.name} is not running")
        self.client.protocol.notify(method, params)

    async def request(self, method: str, params: Any, timeout: float) -> Any:  # noqa: ASYNC109
        """The raw JSON result; `$/cancelRequest` goes out when the caller is cancelled or the time runs out."""
        if not self.alive:
            raise ServerGone(self.why_closed or f"{self.name} is not running")
        msg_id = uuid.uuid4().hex
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._futures[msg_id] = future
        try:
            self.client.protocol.send_request(method, params, msg_id=msg_id)
            with anyio.fail_after(timeout):
                return await future
        except BaseException:
            unanswered = future.cancelled() or not future.done()  # a cancelled task cancels the future it awaits
            if unanswered and self.alive:
                self.client.protocol.notify("$/cancelRequest", {"id": msg_id})
            raise
        finally:
            self._futures.pop(msg_id, None)
            self.client.protocol._request_futures.pop(msg_id, None)

    async def _read_loop(self) -> None:
        assert self._supervised is not None
        stdout = self._supervised.proc.stdout
        assert stdout is not None
        why = f"{self.name} exited"
        reader = _Reader(stdout)
        try:
            while True:
                length = await reader.headers()
                self._dispatch(await reader.exactly(length))
                await anyio.lowlevel.checkpoint()  # a flood of messages must not starve the loop
        except (anyio.EndOfStream, anyio.ClosedResourceError, anyio.BrokenResourceError):
            pass
        except asyncio.CancelledError:
            # Stopped (aclose) or the event loop is ending (asyncio.run cancels what is left): stop the
            # server and close its process while the loop still runs.
            self._close(f"{self.name} was stopped")
            await self._release()
            raise
        except _ProtocolBroken as exc:
            why = f"{self.name} broke the protocol ({exc})"
            log.warning("%s; stopping it", why)
        except Exception:
            log.exception("reading from %s failed", self.name)
            why = f"{self.name} could not be read"
        finally:
            self._close(why)
        await self._release()  # it exited or broke the protocol: reap it now, not at garbage collection

    def _dispatch(self, body: bytes) -> None:
        try:
            data = json.loads(body)
        except (ValueError, RecursionError):
            log.info("%s sent a body that is not JSON; skipped", self.name)
            return
        if not isinstance(data, dict):
            return
        if "method" not in data and "id" in data:
            future = self._futures.get(str(data.get("id")))
            if future is not None and not future.done():
                error = data.get("error")
                if isinstance(error, dict):
                    message = str(error.get("message", "error"))[:300]
                    future.set_exception(RequestFailed(f"{self.name}: {message}"))
                else:
                    future.set_result(data.get("result"))
            return
        if "id" not in data:
            if isinstance(data.get("method"), str):
                self._on_notification(data["method"], data.get("params"))
            return
        try:  # a request to us (configuration, registration, progress): pygls answers it
            message = self.client.protocol.structure_message(data)
            self.client.protocol.handle_message(message)
        except Exception as exc:  # a malformed request or notification: skipped, not fatal
            log.info("%s sent a message punie cannot handle: %s", self.name, str(exc)[:200])

    def _close(self, why: str) -> None:
        if self.closed.is_set():
            return
        self.why_closed = why
        self.closed.set()
        for future in self._futures.values():
            if not future.done():
                future.set_exception(ServerGone(why))
        if self._writer is not None:
            self._writer.close()
        if self._supervised is not None:
            self._supervised.stop()

    def kill(self) -> None:
        """Synchronously: the supervisor stops the server (for a connection whose event loop has ended)."""
        self.closed.set()
        if self._writer is not None:
            self._writer.close()
        supervised, self._supervised = self._supervised, None
        if supervised is not None:
            supervised.forget()  # closes the control pipe: the supervisor kills everything, then exits

    async def aclose(self, polite: bool = True) -> None:
        """`shutdown` + `exit` when it still listens (briefly), then stop it and everything it started."""
        if polite and self.alive:
            try:
                await self.request("shutdown", None, timeout=2.0)
                self.notify("exit", None)
            except Exception:
                pass
        self._close(f"{self.name} was stopped")
        await self._release()
        if self._reader is not None:
            self._reader.cancel()

    async def _release(self) -> None:
        """Wait until the supervisor has stopped everything, and close the process (once)."""
        supervised, self._supervised = self._supervised, None
        if supervised is not None:
            with anyio.CancelScope(shield=True):
                await supervised.stopped()
                supervised.forget()
                with anyio.move_on_after(KILL_GRACE + 1):
                    await supervised.proc.aclose()


class _ProtocolBroken(Exception):
    pass


class _Reader:
    """Buffered reads from the server's stdout, never holding more than one message's worth."""

    def __init__(self, stream: Any) -> None:
        self._stream = stream
        self._buffer = bytearray()

    async def _fill(self) -> None:
        self._buffer += await self._stream.receive(65536)

    async def line(self) -> bytes:
        while (end := self._buffer.find(b"\n")) < 0:
            if len(self._buffer) > MAX_HEADER_BYTES:
                raise _ProtocolBroken("a header line is too long")
            await self._fill()
        if end + 1 > MAX_HEADER_BYTES:
            raise _ProtocolBroken("a header line is too long")
        line = bytes(self._buffer[: end + 1])
        del self._buffer[: end + 1]
        return line

    async def exactly(self, length: int) -> bytes:
        while len(self._buffer) < length:
            await self._fill()
        body = bytes(self._buffer[:length])
        del self._buffer[:length]
        return body

    async def headers(self) -> int:
        """The Content-Length of the next message, after its headers."""
        length: int | None = None
        for _ in range(32):
            line = await self.line()
            if line in (b"\r\n", b"\n"):
                if length is None:
                    raise _ProtocolBroken("a message without Content-Length")
                return length
            name, _, value = line.decode("ascii", errors="replace").partition(":")
            if name.strip().lower() == "content-length":
                text = value.strip()
                if not text.isdigit() or int(text) > MAX_MESSAGE_BYTES:
                    raise _ProtocolBroken(f"Content-Length {text[:20]!r} is not a size up to {MAX_MESSAGE_BYTES} bytes")
                length = int(text)
        raise _ProtocolBroken("too many header lines")
