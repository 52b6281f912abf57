"""Generation settings travel with every model request, and every backend honours them."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, cast

import pytest
from pydantic_ai import Agent
from pydantic_ai.messages import ModelMessage, ModelRequest
from pydantic_ai.models import ModelRequestParameters
from pydantic_ai.models.function import AgentInfo, FunctionModel
from pydantic_ai.settings import ModelSettings

from punie_acp.config import Settings, generation_settings
from punie_acp.core.host import LocalHost
from punie_acp.core.session import SessionManager
from punie_acp.core.turn import TurnRunner
from punie_acp.models.base import StatelessBackend
from punie_acp.models.mlx.engine import Engine
from punie_acp.models.mlx.jobs import GenerationRequest
from punie_acp.models.mlx.model import MlxModel
from punie_acp.models.openai_compat import openai_backend
from punie_acp.tools.registry import default_tools
from tests.support.fake_openai import recording_openai_server

pytestmark = pytest.mark.anyio

BACKEND = Settings(max_tokens=11, temperature=0.9, top_p=0.3)


async def test_the_turn_sends_the_sessions_settings(project: Path) -> None:
    (project / "pyproject.toml").write_text("[tool.punie]\ntemperature = 0.25\n")
    seen: list[ModelSettings | None] = []

    async def reply(messages: list[ModelMessage], info: AgentInfo) -> AsyncIterator[str]:
        seen.append(info.model_settings)
        yield "ok"

    runner = TurnRunner(StatelessBackend(FunctionModel(stream_function=reply), "f"), default_tools())
    server = Settings(max_tokens=77, top_p=0.5)
    session = SessionManager(server).create(str(project), lambda _sid: LocalHost())

    async def ignore(event: object) -> None:
        return None

    await runner.run(session, "hello", ignore)
    assert seen == [{"max_tokens": 77, "temperature": 0.25, "top_p": 0.5}]


class _NoJob:
    def cancel(self) -> None:
        return None


class RecordingEngine:
    """Test double for the mlx `Engine`: records each generation request and generates nothing."""

    def __init__(self) -> None:
        self.requests: list[GenerationRequest] = []

    async def wait_ready(self) -> None:
        return None

    def submit(self, request: GenerationRequest) -> _NoJob:
        self.requests.append(request)
        return _NoJob()


async def _mlx_sampling(model_settings: ModelSettings | None) -> tuple[int, float, float]:
    engine = RecordingEngine()
    model = MlxModel(cast(Engine, engine), "s", BACKEND, "m")
    messages: list[ModelMessage] = [ModelRequest.user_text_prompt("hi")]
    async with model.request_stream(messages, model_settings, ModelRequestParameters()):
        pass
    [request] = engine.requests
    return request.sampling.max_tokens, request.sampling.temperature, request.sampling.top_p


async def test_mlx_samples_with_the_requests_settings() -> None:
    assert await _mlx_sampling({"max_tokens": 5, "temperature": 0.1, "top_p": 0.7}) == (5, 0.1, 0.7)
    # What the request leaves out comes from the backend's settings.
    assert await _mlx_sampling({"max_tokens": 5}) == (5, 0.9, 0.3)
    assert await _mlx_sampling(None) == (11, 0.9, 0.3)


def _sent(body: dict[str, Any]) -> tuple[Any, Any, Any]:
    return body.get("max_tokens"), body.get("temperature"), body.get("top_p")


async def test_openai_compatible_backend_sends_them() -> None:
    with recording_openai_server() as server:
        agent = Agent(openai_backend(server.url, BACKEND).model_for("s"))
        request = generation_settings(Settings(max_tokens=7, temperature=0.5, top_p=0.25))
        async with agent.run_stream("hi", model_settings=request) as run:
            assert await run.get_output() == "recorded"
        async with agent.run_stream("hi") as run:
            await run.get_output()
    first, second = server.chat_requests()
    assert _sent(first) == (7, 0.5, 0.25)
    assert _sent(second) == (11, 0.9, 0.3)  # the backend's own settings are the fallback
    assert "max_completion_tokens" not in first  # local servers read max_tokens
