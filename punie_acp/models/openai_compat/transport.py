"""The HTTP client for an OpenAI-compatible server, with a bound on what one reply may send.

The OpenAI SDK buffers a server-sent-events line until its newline, without a limit, so a server
that streams garbage without newlines (or simply never stops) would grow the process without end.
Every response body here is counted as it arrives; past `MAX_REPLY_BYTES` reading stops with
`ReplyTooLarge`, which the stream turns into one clear error naming the server.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx2
import openai

# A long reply with reasoning is a few MB of SSE (~200 bytes per token); this is far past any.
MAX_REPLY_BYTES = 64 << 20


class ReplyTooLarge(Exception):
    """The server sent more than `MAX_REPLY_BYTES` in one response."""


class _CappedBody(httpx2.AsyncByteStream):
    def __init__(self, inner: httpx2.AsyncByteStream, limit: int) -> None:
        self._inner = inner
        self._limit = limit

    async def __aiter__(self) -> AsyncIterator[bytes]:
        seen = 0
        async for piece in self._inner:
            seen += len(piece)
            if seen > self._limit:
                raise ReplyTooLarge(f"the reply is larger than {self._limit >> 20} MiB")
            yield piece

    async def aclose(self) -> None:
        await self._inner.aclose()


class _CappedTransport(httpx2.AsyncBaseTransport):
    def __init__(self, limit: int) -> None:
        self._inner = httpx2.AsyncHTTPTransport()
        self._limit = limit

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        response = await self._inner.handle_async_request(request)
        if isinstance(response.stream, httpx2.AsyncByteStream):
            response.stream = _CappedBody(response.stream, self._limit)
        return response

    async def aclose(self) -> None:
        await self._inner.aclose()


def capped_http_client(limit: int = MAX_REPLY_BYTES) -> httpx2.AsyncClient:
    """The OpenAI SDK's default client (timeouts, redirects), its responses capped at `limit` bytes."""
    return openai.DefaultAsyncHttpxClient(transport=_CappedTransport(limit))
