"""Any OpenAI-compatible server (mlx_lm.server, vLLM, llama.cpp, Ollama, LM Studio).

`http://host:port/v1/NAME` selects model NAME at base URL `http://host:port/v1`; without a
name the server's default model is used.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from pydantic_ai.models.openai import OpenAIChatModel
from pydantic_ai.providers.openai import OpenAIProvider

from punie_acp.config import Settings
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
    return StatelessBackend(OpenAIChatModel(name, provider=provider), f"{name} @ {base}")
