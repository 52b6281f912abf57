"""Counts the model requests each session makes, around the backend the core is given.

The core reports tokens, not requests; a thin `WrapperModel` counts them without changing what
the model sees or says (it delegates everything else).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncGenerator
from contextlib import asynccontextmanager
from typing import Any

from pydantic_ai import RunContext
from pydantic_ai.messages import ModelMessage, ModelResponse
from pydantic_ai.models import Model, ModelRequestParameters, StreamedResponse
from pydantic_ai.models.wrapper import WrapperModel
from pydantic_ai.settings import ModelSettings

from punie_acp.models.base import ModelBackend, ProgressCallback


class _CountingModel(WrapperModel):
    def __init__(self, wrapped: Model, counts: Counter[str], session_id: str) -> None:
        super().__init__(wrapped)
        self._counts = counts
        self._session_id = session_id

    async def request(
        self,
        messages: list[ModelMessage],
        model_settings: ModelSettings | None,
        model_request_parameters: ModelRequestParameters,
    ) -> ModelResponse:
        self._counts[self._session_id] += 1
        return await super().request(messages, model_settings, model_request_parameters)

    @asynccontextmanager
    async def request_stream(
        self,
        messages: list[ModelMessage],
        model_settings: ModelSettings | None,
        model_request_parameters: ModelRequestParameters,
        run_context: RunContext[Any] | None = None,
    ) -> AsyncGenerator[StreamedResponse]:
        self._counts[self._session_id] += 1
        async with self.wrapped.request_stream(
            messages, model_settings, model_request_parameters, run_context
        ) as stream:
            yield stream


class CountingBackend:
    """`backend`, with `requests[session_id]` counting each session's model requests."""

    def __init__(self, backend: ModelBackend) -> None:
        self.inner = backend
        self.requests: Counter[str] = Counter()

    @property
    def name(self) -> str:
        return self.inner.name

    def start_loading(self) -> None:
        self.inner.start_loading()

    async def ensure_ready(self, on_progress: ProgressCallback) -> None:
        await self.inner.ensure_ready(on_progress)

    def model_for(self, session_id: str) -> Model:
        return _CountingModel(self.inner.model_for(session_id), self.requests, session_id)

    def forget_session(self, session_id: str) -> None:
        self.inner.forget_session(session_id)

    async def aclose(self) -> None:
        await self.inner.aclose()
