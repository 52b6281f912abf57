"""Driving `MlxBackend` the way the core does: a real `pydantic_ai.Agent` per session."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pydantic_ai import Agent, AgentRunResultEvent
from pydantic_ai.messages import (
    FunctionToolCallEvent,
    ModelMessage,
    ModelResponse,
    PartDeltaEvent,
    PartStartEvent,
    TextPart,
    TextPartDelta,
    ThinkingPart,
    ThinkingPartDelta,
)
from pydantic_ai.run import AgentRunResult

from punie_acp.models.mlx import MlxBackend


@dataclass
class Tools:
    calls: list[dict[str, Any]] = field(default_factory=list)


def make_agent(backend: MlxBackend, session_id: str, tools: Tools | None = None) -> Agent[None, str]:
    agent: Agent[None, str] = Agent(backend.model_for(session_id), instructions="You are a careful coding agent.")
    if tools is not None:
        recorder = tools

        @agent.tool_plain
        def read_file(path: str, limit: int = 0) -> str:
            """Read a file from the project."""
            recorder.calls.append({"path": path, "limit": limit})
            return f"contents of {path}: hello from the tool"

    return agent


@dataclass
class Streamed:
    events: list[Any]
    result: AgentRunResult[str]

    def kinds(self) -> list[str]:
        """'text' / 'thinking' per streamed delta, 'call' per tool call, in order."""
        out: list[str] = []
        for event in self.events:
            part = event.part if isinstance(event, PartStartEvent) else None
            delta = event.delta if isinstance(event, PartDeltaEvent) else None
            if (isinstance(part, TextPart) and part.content) or isinstance(delta, TextPartDelta):
                out.append("text")
            elif isinstance(part, ThinkingPart) or isinstance(delta, ThinkingPartDelta):
                out.append("thinking")
            elif isinstance(event, FunctionToolCallEvent):
                out.append("call")
        return out

    def text(self, kind: type[TextPart] | type[ThinkingPart] = TextPart) -> str:
        delta_type = TextPartDelta if kind is TextPart else ThinkingPartDelta
        pieces: list[str] = []
        for event in self.events:
            if isinstance(event, PartStartEvent) and isinstance(event.part, kind):
                pieces.append(event.part.content)
            elif isinstance(event, PartDeltaEvent) and isinstance(event.delta, delta_type):
                pieces.append(str(event.delta.content_delta or ""))
        return "".join(pieces)

    def calls(self) -> list[FunctionToolCallEvent]:
        return [e for e in self.events if isinstance(e, FunctionToolCallEvent)]

    def responses(self) -> list[ModelResponse]:
        return [m for m in self.result.all_messages() if isinstance(m, ModelResponse)]


async def stream_run(
    agent: Agent[None, str], prompt: str, history: list[ModelMessage] | None = None, **kwargs: Any
) -> Streamed:
    events: list[Any] = []
    async with agent.run_stream_events(prompt, message_history=history, **kwargs) as stream:
        async for event in stream:
            events.append(event)
    final = events[-1]
    assert isinstance(final, AgentRunResultEvent)
    return Streamed(events, final.result)
