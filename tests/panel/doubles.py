"""Test doubles for the panel tests: a model that records what it was asked, a backend that records forgets."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from pydantic_ai.messages import ModelMessage, ModelResponse, TextPart
from pydantic_ai.models import Model
from pydantic_ai.models.function import AgentInfo, FunctionModel
from pydantic_ai.profiles import ModelProfile

from punie_acp.models.base import StatelessBackend


@dataclass
class Seen:
    """What one model request carried."""

    prompt: str
    instructions: str | None
    thinking: object
    tools: dict[str, str]  # name: description, as offered to the model


@dataclass
class RecordingModel:
    """A hybrid-thinking model double: answers `reply`, records each request's prompt, instructions, thinking."""

    reply: str = "ok"
    seen: list[Seen] = field(default_factory=list)

    def _record(self, messages: list[ModelMessage], info: AgentInfo) -> None:
        last = messages[-1]
        prompt = " ".join(str(getattr(p, "content", "")) for p in last.parts)
        tools = {t.name: t.description or "" for t in info.function_tools}
        self.seen.append(Seen(prompt, info.instructions, info.model_request_parameters.thinking, tools))

    def model(self) -> Model:
        def answer(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
            self._record(messages, info)
            return ModelResponse(parts=[TextPart(self.reply)])

        async def stream(messages: list[ModelMessage], info: AgentInfo) -> AsyncIterator[str]:
            self._record(messages, info)
            yield self.reply

        return FunctionModel(answer, stream_function=stream, profile=ModelProfile(supports_thinking=True))


class ForgetRecordingBackend(StatelessBackend):
    """A stateless backend that records which sessions it was told to forget (its per-session state)."""

    def __init__(self, model: Model, name: str) -> None:
        super().__init__(model, name)
        self.forgotten: list[str] = []

    def forget_session(self, session_id: str) -> None:
        self.forgotten.append(session_id)
