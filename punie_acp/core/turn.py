"""One prompt turn: run the PydanticAI agent loop and turn what happens into neutral events."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from typing import Any

import pydantic_ai
from pydantic_ai import Agent, UsageLimits
from pydantic_ai.exceptions import OutputTokenLimitExceeded, UnexpectedModelBehavior, UsageLimitExceeded
from pydantic_ai.messages import (
    FunctionToolCallEvent,
    FunctionToolResultEvent,
    ModelMessage,
    ModelResponse,
    PartDeltaEvent,
    PartStartEvent,
    TextPart,
    TextPartDelta,
    ThinkingPart,
    ThinkingPartDelta,
    ToolCallPart,
)
from pydantic_ai.models import Model
from pydantic_ai.settings import ModelSettings
from pydantic_ai.toolsets import AbstractToolset

from punie_acp.config import generation_settings
from punie_acp.core.context import Emit, ToolContext
from punie_acp.core.events import (
    StopCause,
    StopReason,
    TextContent,
    TextDelta,
    ThoughtDelta,
    ToolFinished,
    ToolStarted,
    TurnEnded,
    UsageReported,
)
from punie_acp.core.mcp import tool_title as mcp_tool_title
from punie_acp.core.permissions import PermissionCancelled
from punie_acp.core.project_notes import project_instructions
from punie_acp.core.prompts import instructions
from punie_acp.core.session import Session
from punie_acp.core.tooling import AgentTool
from punie_acp.core.toolset import build_toolset, by_name
from punie_acp.models.base import ModelBackend
from punie_acp.workspace.text import encodable, representable, shown_text

log = logging.getLogger(__name__)

# PydanticAI shows a first-run banner (an observability advertisement) on stderr when that is a
# terminal: in `punie ask` it lands in the user's answer. punie is the application here.
pydantic_ai.BANNER_ENABLED = False


STATE_CHANGING_KINDS = frozenset({"edit", "delete", "move", "execute"})


class RepeatedToolCall(Exception):
    """The model asked for a call it already made this turn with the same arguments."""


def _call_key(part: ToolCallPart) -> str:
    args = part.args_as_dict() if part.args else {}
    return part.tool_name + "\x00" + json.dumps(args, sort_keys=True, default=str)


def _safe_args(part: ToolCallPart) -> dict[str, Any]:
    # Echoed to the editor: lone surrogates in the model's arguments would fail the whole update.
    try:
        return dict(representable(part.args_as_dict()))
    except Exception:  # malformed JSON from the model: show it raw
        return {"_raw": representable(part.args)}


def consistent_history(messages: Sequence[ModelMessage]) -> list[ModelMessage]:
    """History to keep after an interrupted turn: no trailing tool calls that never got results."""
    kept = list(messages)
    while kept and isinstance(kept[-1], ModelResponse) and any(isinstance(p, ToolCallPart) for p in kept[-1].parts):
        kept.pop()
    return kept


class TurnRunner:
    def __init__(self, backend: ModelBackend, tools: Sequence[AgentTool]) -> None:
        self._backend = backend
        self._tools: Mapping[str, AgentTool] = by_name(tools)
        self._agent: Agent[ToolContext, str] = Agent(
            deps_type=ToolContext,
            output_type=str,
            toolsets=[build_toolset(tools)],
            # punie's rules first; then the project's own notes (AGENTS.md), framed as the project's text.
            instructions=[instructions, project_instructions],
        )

    async def run(
        self,
        session: Session,
        prompt: str,
        emit: Emit,
        *,
        model: Model | None = None,
        extra_settings: ModelSettings | None = None,
        toolsets: Sequence[AbstractToolset[ToolContext]] = (),
    ) -> TurnEnded:
        """The agent loop for one prompt; the caller (`CoreService.run_turn`) owns the lifecycle.

        `model` (the session's chosen one), `extra_settings` (thinking) and `toolsets` (its MCP
        servers) are the session's panel choices; without them the backend's model runs alone.
        """
        deps = ToolContext(
            session_id=session.id,
            workspace=session.workspace,
            host=session.host,
            permissions=session.permissions,
            settings=session.settings,
            emit=emit,
        )
        limits = UsageLimits(
            request_limit=session.settings.request_limit,
            tool_calls_limit=session.settings.tool_calls_limit,
        )
        seen_calls: set[str] = set()
        finish: str | None = None
        # The one call into PydanticAI's loop: generation settings, when passed, go here.
        async with self._agent.iter(
            prompt,
            message_history=session.history,
            deps=deps,
            model=model or self._backend.model_for(session.id),
            usage_limits=limits,
            model_settings={**generation_settings(session.settings), **(extra_settings or {})},
            toolsets=list(toolsets) or None,
        ) as run:
            try:
                async for node in run:
                    if Agent.is_model_request_node(node):
                        async with node.stream(run.ctx) as stream:
                            async for event in stream:
                                await self._on_model_event(event, emit)
                        finish = stream.response.finish_reason
                    elif Agent.is_call_tools_node(node):
                        async with node.stream(run.ctx) as tool_stream:
                            async for tool_event in tool_stream:
                                await self._on_tool_event(tool_event, session, emit, seen_calls)
            except RepeatedToolCall as exc:
                return await self._stopped(
                    emit,
                    "max_turn_requests",
                    f"Stopped: the model repeated the same `{exc}` call with the same arguments.",
                    "repeated_tool_call",
                )
            except UsageLimitExceeded as exc:
                return await self._stopped(emit, "max_turn_requests", f"Stopped: {exc}.", "usage_limit")
            except PermissionCancelled as exc:
                # The user cancelled a permission prompt: whatever the tool, the turn ends as cancelled (ACP).
                if exc.call_id:
                    await emit(ToolFinished(exc.call_id, ok=False, raw_output=str(exc)))
                return TurnEnded("cancelled", str(exc))
            except OutputTokenLimitExceeded as exc:
                # The reply (often a tool call) was cut off by max_tokens: retrying hits it again.
                return await self._stopped(emit, "max_tokens", f"Stopped: the reply hit the token limit ({exc}).")
            except UnexpectedModelBehavior as exc:
                log.warning("model misbehaved: %s", exc)
                return await self._stopped(emit, "end_turn", f"Stopped: the model's output was unusable ({exc}).")
            finally:
                # Cancelled or not, the conversation so far stays in the session.
                session.history = consistent_history(run.all_messages())
            usage = run.usage
        await emit(UsageReported(input_tokens=usage.input_tokens, output_tokens=usage.output_tokens))
        stop: StopReason = "end_turn"
        if finish == "length":
            stop = "max_tokens"
        elif finish == "content_filter":
            stop = "refusal"
        return TurnEnded(stop)

    async def _stopped(self, emit: Emit, reason: StopReason, message: str, cause: StopCause | None = None) -> TurnEnded:
        await emit(TextDelta("\n\n" + message))
        return TurnEnded(reason, message, cause)

    async def _on_model_event(self, event: object, emit: Emit) -> None:
        if isinstance(event, PartStartEvent):
            part = event.part
            if isinstance(part, TextPart) and part.content:
                await emit(TextDelta(part.content))
            elif isinstance(part, ThinkingPart) and part.content:
                await emit(ThoughtDelta(part.content))
        elif isinstance(event, PartDeltaEvent):
            delta = event.delta
            if isinstance(delta, TextPartDelta) and delta.content_delta:
                await emit(TextDelta(delta.content_delta))
            elif isinstance(delta, ThinkingPartDelta) and delta.content_delta:
                await emit(ThoughtDelta(delta.content_delta))

    async def _on_call(self, part: ToolCallPart, session: Session, emit: Emit) -> None:
        args = _safe_args(part)
        tool = self._tools.get(part.tool_name)
        mcp_title = mcp_tool_title(part.tool_name) if tool is None else None
        if mcp_title is not None:  # an MCP server's tool: not known to be safe, so shown as execute
            name = shown_text(part.tool_name, 100)
            await emit(ToolStarted(part.tool_call_id, name, "execute", shown_text(mcp_title, 100), args))
            return
        if tool is None:  # a name the model made up: shown escaped (it may not even encode)
            name = shown_text(part.tool_name, 100)
            await emit(ToolStarted(part.tool_call_id, name, "other", name, args))
            return
        await emit(
            ToolStarted(
                call_id=part.tool_call_id,
                name=part.tool_name,
                kind=tool.kind,
                title=tool.title(args),
                raw_input=args,
                locations=tool.locate(args, session.workspace),
            )
        )

    async def _on_tool_event(self, event: object, session: Session, emit: Emit, seen_calls: set[str]) -> None:
        if isinstance(event, FunctionToolCallEvent):
            key = _call_key(event.part)
            await self._on_call(event.part, session, emit)
            if key in seen_calls:
                not_run = "not run: identical to an earlier call this turn"
                await emit(ToolFinished(event.tool_call_id, ok=False, raw_output=not_run))
                raise RepeatedToolCall(event.part.tool_name)
            seen_calls.add(key)
        elif isinstance(event, FunctionToolResultEvent):
            await self._on_result(event, emit)
            if self._changes_state(event):
                # After an edit or a command, running the same check again (tests, lint, diff)
                # is progress, not a loop.
                seen_calls.clear()

    def _changes_state(self, event: FunctionToolResultEvent) -> bool:
        tool = self._tools.get(event.part.tool_name)
        return tool is not None and tool.kind in STATE_CHANGING_KINDS and event.part.outcome == "success"

    async def _on_result(self, event: FunctionToolResultEvent, emit: Emit) -> None:
        part = event.part
        ok = part.outcome == "success"
        text = part.model_response_str() if ok else part.model_response_str(wrap_if_error=False)
        text = encodable(text)[0]  # a validation error may quote the model's invalid text
        await emit(ToolFinished(event.tool_call_id, ok=ok, raw_output=text, content=(TextContent(text),)))
