"""Any OpenAI-compatible server (mlx_lm.server, vLLM, llama.cpp, Ollama, LM Studio).

`http://host:port/v1/NAME` selects model NAME at base URL `http://host:port/v1`; without a
name the server's default model is used. A server that is not running, does not serve the
model, answers with an error or with something that is not a chat completion stream is an
expected failure: it surfaces as `ModelNotAvailable`, one line naming the URL and what to do.

Every request carries the session's generation settings and the stop sequences (`stops.py`);
tool calls the server leaves in the text are recovered (`stream.py`); a reply is read with a
bound on its size (`transport.py`).
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from contextlib import asynccontextmanager
from typing import Any, cast
from urllib.parse import urlsplit

from pydantic_ai import RunContext
from pydantic_ai.exceptions import ModelAPIError, UnexpectedModelBehavior
from pydantic_ai.messages import ModelMessage, ModelResponse
from pydantic_ai.models import ModelRequestParameters, StreamedResponse
from pydantic_ai.models.openai import OpenAIChatModel, OpenAIChatModelSettings, OpenAIStreamedResponse
from pydantic_ai.profiles.openai import OpenAIModelProfile
from pydantic_ai.providers.openai import OpenAIProvider
from pydantic_ai.settings import ModelSettings

from punie_acp.config import Settings, generation_settings
from punie_acp.models.base import ModelBackend, ModelNotAvailable, StatelessBackend
from punie_acp.models.failures import explain_model_failure
from punie_acp.models.openai_compat.stops import stop_sequences
from punie_acp.models.openai_compat.stream import RecoveringStreamedResponse
from punie_acp.models.openai_compat.transport import MAX_REPLY_BYTES, ReplyTooLarge, capped_http_client
from punie_acp.models.streaming import drain


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
    """`OpenAIChatModel` that recovers tool calls from text, always sends stop sequences, and whose
    failures say which server failed and what to do about it."""

    def __init__(
        self, name: str, base_url: str, settings: ModelSettings, *, reply_limit: int = MAX_REPLY_BYTES
    ) -> None:
        client = capped_http_client(reply_limit)
        provider = OpenAIProvider(base_url=base_url, api_key="punie-local", http_client=client)
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
        # Streamed, so a reply asked for whole gets the same tool-call parsing.
        return await drain(self.request_stream(messages, model_settings, model_request_parameters))

    @asynccontextmanager
    async def request_stream(
        self,
        messages: list[ModelMessage],
        model_settings: ModelSettings | None,
        model_request_parameters: ModelRequestParameters,
        run_context: RunContext[Any] | None = None,
    ) -> AsyncGenerator[StreamedResponse]:
        settings = self._with_stops(model_settings)
        # Failures come on opening the stream (connection refused, 404) or while reading it.
        try:
            async with super().request_stream(messages, settings, model_request_parameters, run_context) as stream:
                if isinstance(stream, RecoveringStreamedResponse):
                    stream.use_tools(_tool_schemas(stream.model_request_parameters))
                yield stream
        except ModelAPIError as exc:
            raise self._unavailable(exc) from exc
        except ReplyTooLarge as exc:
            raise ModelNotAvailable(
                f"the model server at {self._base_url} sent too much: {exc}; reading stopped."
            ) from exc
        except UnexpectedModelBehavior as exc:  # e.g. a 200 whose body holds no completion chunk at all
            raise ModelNotAvailable(
                f"the model server at {self._base_url} sent no chat completion ({exc.message}); "
                "check that the URL is an OpenAI-compatible /v1 endpoint."
            ) from exc

    @property
    def _streamed_response_cls(self) -> type[OpenAIStreamedResponse]:
        return RecoveringStreamedResponse

    def _with_stops(self, model_settings: ModelSettings | None) -> ModelSettings:
        merged = cast(OpenAIChatModelSettings, {**(self.settings or {}), **(model_settings or {})})
        merged["stop_sequences"] = stop_sequences(self.model_name, merged.get("stop_sequences"))
        return merged

    def _unavailable(self, error: ModelAPIError) -> ModelNotAvailable:
        broke = _broke_off(error)
        if broke is not None:
            return ModelNotAvailable(
                f"the model server at {self._base_url} closed the connection in the middle of the reply "
                f"({_first_line(broke)}); check the server's log, then try again."
            )
        return ModelNotAvailable(explain_model_failure(error, self._base_url) or str(error))


_BROKE_OFF = ("RemoteProtocolError", "ReadError")


def _broke_off(error: BaseException) -> BaseException | None:
    """The cause, when the server went away after it had started answering (not: could not be reached)."""
    seen: set[int] = set()
    cause: BaseException | None = error
    while cause is not None and id(cause) not in seen:
        # HTTPX2's errors (the SDK's HTTP library, not punie's dependency), by name.
        if any(c.__name__ in _BROKE_OFF for c in type(cause).__mro__):
            return cause
        seen.add(id(cause))
        cause = cause.__cause__ or cause.__context__
    return None


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return (text.splitlines()[0] if text else type(error).__name__)[:300]


def _tool_schemas(params: ModelRequestParameters) -> list[dict[str, Any]]:
    return [
        {"type": "function", "function": {"name": tool.name, "parameters": tool.parameters_json_schema}}
        for tool in params.declared_tool_defs.values()
    ]


def openai_backend(url: str, settings: Settings) -> ModelBackend:
    base, name = split_url(url)
    return StatelessBackend(LocalServerModel(name, base, generation_settings(settings)), f"{name} @ {base}")
