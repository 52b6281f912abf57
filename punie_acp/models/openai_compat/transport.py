"""The HTTP client for an OpenAI-compatible server, with a bound on what one reply may send.

The OpenAI SDK buffers a server-sent-events line until its newline, without a limit, so a server
that streams garbage without newlines (or simply never stops) would grow the process without end.
Every response body here is counted as it arrives; past `MAX_REPLY_BYTES` reading stops with
`ReplyTooLarge`, which the model turns into one clear error naming the server.

The client is PydanticAI's own (`create_async_httpx2_client`: its timeouts and pool limits) with a
response hook that wraps the body stream. HTTPX2 is the SDK's library, not punie's, so it is not
imported here: the wrapper derives from the body stream's own `AsyncByteStream` base, which is
what HTTPX2 checks before reading it.
"""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import httpx2

# A long reply with reasoning is a few MB of SSE (~200 bytes per token); this is far past any.
MAX_REPLY_BYTES = 64 << 20


class ReplyTooLarge(Exception):
    """The server sent more than its limit in one response."""


def capped_http_client(limit: int = MAX_REPLY_BYTES) -> httpx2.AsyncClient:
    """PydanticAI's default HTTP client, its response bodies capped at `limit` bytes."""
    from pydantic_ai.models import create_async_httpx2_client

    client = create_async_httpx2_client()
    client.event_hooks["response"].append(_capping(limit))
    return client


def _capping(limit: int) -> Callable[[httpx2.Response], Awaitable[None]]:
    async def cap(response: httpx2.Response) -> None:
        stream_type: type = type(response.stream)
        capped = _capped_type(stream_type)
        if capped is not None:
            response.stream = capped(response.stream, limit)

    return cap


@functools.cache
def _capped_type(stream_type: type) -> Any:
    base = next((c for c in stream_type.__mro__ if c.__name__ == "AsyncByteStream"), None)
    if base is None:
        return None  # not an async body: nothing this client reads

    class CappedBody(base):  # type: ignore[misc, valid-type]
        def __init__(self, inner: Any, limit: int) -> None:
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

    return CappedBody
