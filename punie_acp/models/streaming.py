"""A whole reply from a streamed request, for backends whose only real path is streaming."""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pydantic_ai.messages import ModelResponse
    from pydantic_ai.models import StreamedResponse


async def drain(stream_context: AbstractAsyncContextManager[StreamedResponse]) -> ModelResponse:
    """Read the stream to its end: a reply asked for whole gets the same parsing as a streamed one."""
    async with stream_context as stream:
        async for _ in stream:
            pass
    return stream.get()
