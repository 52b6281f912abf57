"""Any OpenAI-compatible server (mlx_lm.server, vLLM, llama.cpp, Ollama, LM Studio).

`http://host:port/v1/NAME` selects model NAME at base URL `http://host:port/v1`; without a
name the server's default model is used. A server that is not running, or does not serve the
model, is an expected failure: it surfaces as `ModelNotAvailable` naming the URL and what to do.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from contextlib import asynccontextmanager
from typing import Any, cast
from urllib.parse import urlsplit

from pydantic_ai import RunContext
from pydantic_ai.exceptions import ModelAPIError
from pydantic_ai.messages import ModelMessage, ModelResponse
from pydantic_ai.models import ModelRequestParameters, StreamedResponse
from pydantic_ai.models.openai import OpenAIChatModel
from pydantic_ai.profiles.openai import OpenAIModelProfile
from pydantic_ai.providers.openai import OpenAIProvider
from pydantic_ai.settings import ModelSettings

from punie_acp.config import Settings, generation_settings
from punie_acp.models.base import ModelBackend, ModelNotAvailable, StatelessBackend
from punie_acp.models.failures import explain_model_failure


def split_url(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    path = parts.path.rstrip("/")
    if "/v1" in path:
        head, _, tail = path.partition("/v1")
        base = f"{parts.scheme}://{parts.netloc}{head}/v1"
        name = tail.strip("/") or "default"
    else:
        base, name = f"{parts.scheme}://{parts.netloc}{path}", "default"
    return base, name


class LocalServerModel(OpenAIChatModel):
    """`OpenAIChatModel` whose API failures say which server failed and what to do about it."""

    def __init__(self, name: str, base_url: str, settings: ModelSettings) -> None:
        provider = OpenAIProvider(base_url=base_url, api_key="punie-local")
        # Every local OpenAI-compatible server reads `max_tokens`; not all read OpenAI's newer
        # `max_completion_tokens`. `settings` are only the fallback: each request carries the
        # session's generation settings (core/turn.py).
        profile = cast(
            OpenAIModelProfile,
            {**(provider.model_profile(name) or {}), "openai_chat_supports_max_completion_tokens": False},
        )
        super().__init__(name, provider=provider, profile=profile, settings=settings)
        self._base_url = base_url

    async def request(
        self,
        messages: list[ModelMessage],
        model_settings: ModelSettings | None,
        model_request_parameters: ModelRequestParameters,
    ) -> ModelResponse:
        try:
            return await super().request(messages, model_settings, model_request_parameters)
        except ModelAPIError as exc:
            raise self._unavailable(exc) from exc

    @asynccontextmanager
    async def request_stream(
        self,
        messages: list[ModelMessage],
        model_settings: ModelSettings | None,
        model_request_parameters: ModelRequestParameters,
        run_context: RunContext[Any] | None = None,
    ) -> AsyncGenerator[StreamedResponse]:
        # Failures come on opening the stream (connection refused, 404) or while reading it.
        try:
            async with super().request_stream(
                messages, model_settings, model_request_parameters, run_context
            ) as stream:
                yield stream
        except ModelAPIError as exc:
            raise self._unavailable(exc) from exc

    def _unavailable(self, error: ModelAPIError) -> ModelNotAvailable:
        return ModelNotAvailable(explain_model_failure(error, self._base_url) or str(error))


def openai_backend(url: str, settings: Settings) -> ModelBackend:
    base, name = split_url(url)
    return StatelessBackend(LocalServerModel(name, base, generation_settings(settings)), f"{name} @ {base}")
