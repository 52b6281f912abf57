"""Any OpenAI-compatible server (mlx_lm.server, vLLM, llama.cpp, Ollama, LM Studio).

`http://host:port/v1/NAME` selects model NAME at base URL `http://host:port/v1`; without a
name the server's default model is used.
"""

from __future__ import annotations

from typing import cast
from urllib.parse import urlsplit

from pydantic_ai.models.openai import OpenAIChatModel
from pydantic_ai.profiles.openai import OpenAIModelProfile
from pydantic_ai.providers.openai import OpenAIProvider

from punie_acp.config import Settings, generation_settings
from punie_acp.models.base import ModelBackend, StatelessBackend


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


def openai_backend(url: str, settings: Settings) -> ModelBackend:
    base, name = split_url(url)
    provider = OpenAIProvider(base_url=base, api_key="punie-local")
    # Every local OpenAI-compatible server reads `max_tokens`; not all read OpenAI's newer
    # `max_completion_tokens`. The generation settings here are only the fallback: each request
    # carries the session's (core/turn.py).
    profile = cast(
        OpenAIModelProfile,
        {**(provider.model_profile(name) or {}), "openai_chat_supports_max_completion_tokens": False},
    )
    model = OpenAIChatModel(name, provider=provider, profile=profile, settings=generation_settings(settings))
    return StatelessBackend(model, f"{name} @ {base}")
