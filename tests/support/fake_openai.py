"""A test double: a small asyncio HTTP server on 127.0.0.1 that plays scripted OpenAI answers.

Each chat request is recorded (`requests`) and answered by the next scripted `Reply` (a default
"ok" when none is left). Replies are raw bytes written in small pieces, so a client meets awkward
boundaries: SSE events split inside lines, inside JSON strings, inside multi-byte UTF-8 characters.
`sse_reply` builds the usual case: the model's raw text streamed as `content` (and `reasoning`)
deltas of a few characters each, which puts delta boundaries inside tags and JSON strings too.
It runs on its own thread and loop, so a test can drive it from a subprocess or in-process.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Reply:
    body: bytes
    status: int = 200
    content_type: str = "text/event-stream"
    piece: int = 5  # bytes per write
    drop_after: int | None = None  # close the connection after this many body bytes (a dropped stream)
    endless: bytes | None = None  # after the body, write this forever (until the client goes away)


def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
    return {
        "id": "chatcmpl-fake",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": "fake",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }


def sse(events: list[dict[str, Any]], done: bool = True) -> bytes:
    text = "".join(f"data: {json.dumps(e, ensure_ascii=False)}\n\n" for e in events)
    return (text + ("data: [DONE]\n\n" if done else "")).encode()


def deltas(text: str, step: int, key: str = "content") -> list[dict[str, Any]]:
    return [chunk({key: text[i : i + step]}) for i in range(0, len(text), step)]


def sse_reply(
    content: str,
    *,
    reasoning: str = "",
    reasoning_field: str = "reasoning",
    step: int = 3,
    finish: str = "stop",
    extra: list[dict[str, Any]] | None = None,
) -> Reply:
    """Reasoning (if any) then content, each streamed `step` characters per delta."""
    events = [chunk({"role": "assistant", "content": ""})]
    events += deltas(reasoning, step, reasoning_field) + deltas(content, step) + (extra or [])
    events.append(chunk({}, finish))
    return Reply(sse(events))


def status_reply(status: int, body: bytes, content_type: str = "application/json") -> Reply:
    return Reply(body, status=status, content_type=content_type, piece=1 << 16)


@dataclass
class FakeOpenAIServer:
    host: str = "127.0.0.1"
    port: int = 0
    requests: list[dict[str, Any]] = field(default_factory=list)
    replies: deque[Reply] = field(default_factory=deque)
    fallback: Reply | None = None  # the answer once the script is used up (default: "ok")
    answered: int = 0

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}/v1"

    @property
    def url(self) -> str:
        """The `--model` URL: the base and a model name."""
        return self.base_url + "/fake-qwen3"

    def script(self, *replies: Reply) -> None:
        self.replies.extend(replies)

    def chat_requests(self) -> list[dict[str, Any]]:
        """The chat completion requests received, in order."""
        return [r for r in self.requests if "messages" in r]

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.decode("latin-1").split("\r\n")[1:]:
                name, _, value = line.partition(":")
                if name.strip().lower() == "content-length":
                    length = int(value.strip())
            body = await reader.readexactly(length) if length else b""
            with suppress(ValueError):
                self.requests.append(json.loads(body or b"{}"))
            reply = self.replies.popleft() if self.replies else self.fallback or sse_reply("ok")
            self.answered += 1
            await _answer(writer, reply)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass  # the client went away: that is its business
        finally:
            writer.close()
            with suppress(ConnectionError):
                await writer.wait_closed()


async def _answer(writer: asyncio.StreamWriter, reply: Reply) -> None:
    reason = {200: "OK", 404: "Not Found", 500: "Internal Server Error"}.get(reply.status, "Status")
    head = f"HTTP/1.1 {reply.status} {reason}\r\nContent-Type: {reply.content_type}\r\nConnection: close\r\n"
    if reply.endless is None:
        head += f"Content-Length: {len(reply.body)}\r\n"
    writer.write((head + "\r\n").encode())
    body = reply.body if reply.drop_after is None else reply.body[: reply.drop_after]
    for i in range(0, len(body), reply.piece):
        writer.write(body[i : i + reply.piece])
        await writer.drain()
        await asyncio.sleep(0)  # let each piece go out on its own where the kernel allows
    while reply.endless is not None:
        writer.write(reply.endless)
        await writer.drain()


@contextmanager
def fake_openai_server() -> Iterator[FakeOpenAIServer]:
    server = FakeOpenAIServer()
    loop = asyncio.new_event_loop()
    started = threading.Event()
    holder: list[asyncio.Server] = []

    async def start() -> None:
        listener = await asyncio.start_server(server.handle, server.host, 0)
        server.port = listener.sockets[0].getsockname()[1]
        holder.append(listener)

    def run() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(start())
        started.set()
        loop.run_forever()

    thread = threading.Thread(target=run, name="fake-openai", daemon=True)
    thread.start()
    if not started.wait(60):
        raise RuntimeError("the fake OpenAI server did not start")
    try:
        yield server
    finally:

        async def stop() -> None:
            holder[0].close()
            for task in asyncio.all_tasks():
                if task is not asyncio.current_task():
                    task.cancel()

        asyncio.run_coroutine_threadsafe(stop(), loop).result(30)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(30)
        loop.close()


@contextmanager
def recording_openai_server(reply: str = "recorded") -> Iterator[FakeOpenAIServer]:
    """A server that answers every chat request with `reply`; a test reads what was sent (`chat_requests`)."""
    with fake_openai_server() as server:
        server.fallback = sse_reply(reply)
        yield server
