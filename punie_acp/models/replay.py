"""A PydanticAI model that streams a planned response: the base of the `test` and `script:` backends.

Subclasses decide *what* to answer (`plan`); this module streams it like a real model would:
thinking and text in small chunks, tool calls as parts, a finish reason at the end.
"""

from __future__ import annotations

import re
import uuid
from abc import abstractmethod
from collections.abc import AsyncGenerator, AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

import anyio
from pydantic_ai import RunContext
from pydantic_ai.messages import (
    FinishReason,
    ModelMessage,
    ModelResponse,
    ModelResponsePart,
    ModelResponseStreamEvent,
    TextPart,
    ThinkingPart,
    ToolCallPart,
)
from pydantic_ai.models import Model, ModelRequestParameters, StreamedResponse
from pydantic_ai.settings import ModelSettings
from pydantic_ai.usage import RequestUsage


@dataclass(frozen=True)
class Think:
    text: str


@dataclass(frozen=True)
class Say:
    text: str


@dataclass(frozen=True)
class Call:
    name: str
    args: dict[str, Any] | str  # a string is the raw JSON text a model emitted, possibly broken


Step = Think | Say | Call

_PIECES = re.compile(r"\s*\S+|\s+")


def chunks(text: str) -> list[str]:
    """Word-sized pieces with their leading whitespace, the way a tokenizer streams."""
    return _PIECES.findall(text)


@dataclass(frozen=True)
class Plan:
    steps: Sequence[Step]
    finish: FinishReason = "stop"
    chunk_delay: float = 0.0


class ReplayModel(Model):
    def __init__(self, name: str) -> None:
        super().__init__()
        self._name = name

    @property
    def model_name(self) -> str:
        return self._name

    @property
    def system(self) -> str:
        return "punie"

    @abstractmethod
    def plan(self, messages: Sequence[ModelMessage], params: ModelRequestParameters) -> Plan: ...

    async def request(
        self,
        messages: list[ModelMessage],
        model_settings: ModelSettings | None,
        model_request_parameters: ModelRequestParameters,
    ) -> ModelResponse:
        _, params = self.prepare_request(model_settings, model_request_parameters)
        plan = self.plan(messages, params)
        parts: list[ModelResponsePart] = []
        for step in plan.steps:
            if isinstance(step, Think):
                parts.append(ThinkingPart(step.text))
            elif isinstance(step, Say):
                parts.append(TextPart(step.text))
            else:
                parts.append(ToolCallPart(step.name, step.args, tool_call_id=_call_id()))
        return ModelResponse(parts=parts, model_name=self._name, finish_reason=plan.finish, usage=_usage(plan))

    @asynccontextmanager
    async def request_stream(
        self,
        messages: list[ModelMessage],
        model_settings: ModelSettings | None,
        model_request_parameters: ModelRequestParameters,
        run_context: RunContext[Any] | None = None,
    ) -> AsyncGenerator[StreamedResponse]:
        _, params = self.prepare_request(model_settings, model_request_parameters)
        plan = self.plan(messages, params)
        yield ReplayStreamedResponse(model_request_parameters=params, _plan=plan, _model_name=self._name)


def _call_id() -> str:
    return "call_" + uuid.uuid4().hex[:12]


def _usage(plan: Plan) -> RequestUsage:
    out = 0
    for step in plan.steps:
        out += len(chunks(step.text)) if isinstance(step, Think | Say) else 1
    return RequestUsage(input_tokens=0, output_tokens=out)


@dataclass
class ReplayStreamedResponse(StreamedResponse):
    _plan: Plan
    _model_name: str
    _timestamp: datetime = field(default_factory=lambda: datetime.now(UTC))
    _closed: bool = False

    async def _get_event_iterator(self) -> AsyncIterator[ModelResponseStreamEvent]:
        delay = self._plan.chunk_delay
        for index, step in enumerate(self._plan.steps):
            if isinstance(step, Call):
                yield self._parts_manager.handle_tool_call_part(
                    vendor_part_id=index, tool_name=step.name, args=step.args, tool_call_id=_call_id()
                )
                continue
            kind: Literal["think", "say"] = "think" if isinstance(step, Think) else "say"
            for piece in chunks(step.text):
                if self._closed:
                    return
                if delay:
                    await anyio.sleep(delay)
                self._usage += RequestUsage(output_tokens=1)
                if kind == "think":
                    for event in self._parts_manager.handle_thinking_delta(vendor_part_id=index, content=piece):
                        yield event
                else:
                    for event in self._parts_manager.handle_text_delta(vendor_part_id=index, content=piece):
                        yield event
        self.finish_reason = self._plan.finish

    async def close_stream(self) -> None:
        self._closed = True

    @property
    def model_name(self) -> str:
        return self._model_name

    @property
    def provider_name(self) -> str | None:
        return "punie"

    @property
    def provider_url(self) -> str | None:
        return None

    @property
    def timestamp(self) -> datetime:
        return self._timestamp
