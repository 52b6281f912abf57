"""The PydanticAI `Model` view of the shared mlx engine, one per session.

Streams as the tokens come, at most `STREAM_INTERVAL_S` apart (a fast model's tokens arrive a few
at a time; the first never waits): answer text as text deltas, `<think>` content as thinking deltas, each
tool call as one complete tool-call part as soon as its block closes. Usage carries real token
counts (prompt, cached, generated; `details['prefilled_tokens']` is what actually ran through the
model). `finish_reason` is 'length' when `max_tokens` ran out or the repetition guard ended a
degenerate loop, 'tool_call' when the reply called tools.

A tool call that cannot be parsed is not dropped: it becomes a `ToolCallPart` whose arguments are
the raw text the model wrote (not valid JSON), so PydanticAI answers it with a retry prompt quoting
the JSON error; a call with no readable name is sent as tool `invalid_tool_call`, which PydanticAI
answers with "Unknown tool name … Available tools: …". Either way the model is told and can retry.
A call cut off by `max_tokens` or the repetition guard is not a call: it ends the turn as text, with
finish reason 'length' (the core's stop reason max_tokens).

Cancelling the consumer (or closing the stream) sets the job's stop flag: the model thread stops
before its next token or prefill step.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncGenerator, AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from typing import Any, ClassVar

from pydantic_ai import RunContext
from pydantic_ai.messages import ModelMessage, ModelResponse, ModelResponseStreamEvent
from pydantic_ai.models import Model, ModelRequestParameters, StreamedResponse, check_allow_model_requests
from pydantic_ai.profiles import ModelProfile
from pydantic_ai.settings import ModelSettingName, ModelSettings
from pydantic_ai.usage import RequestUsage

from punie_acp.config import Settings, generation_settings
from punie_acp.models.mlx.chat import chat_messages, render_prompt, tool_definitions
from punie_acp.models.mlx.engine import Engine
from punie_acp.models.mlx.jobs import (
    Failed,
    Finished,
    GenerationRequest,
    JobEvent,
    JobHandle,
    Prompted,
    Sampling,
    Text,
    coalesced,
)
from punie_acp.models.streaming import drain
from punie_acp.models.toolcalls import (
    INVALID_TOOL_NAME,
    NORMAL,
    REASONING,
    ParseEvent,
    ReplyDelta,
    ReplyParser,
    ThinkingDelta,
    ToolCallEnd,
)

# Text reaches PydanticAI (and the editor) at most this often. Token by token, the event loop's
# per-event work (PydanticAI's parts manager, the ACP update) competes with the model thread for
# the GIL. With a small model at ~2 ms a token on 2 CPU cores, decoding at an Agent ran at 0.80x
# bare mlx-lm token by token and 0.96-0.98x paced; on an H200 (0.6B dense, `mlx_scale.py`)
# 0.89-0.92x before and 1.01x after. 16 ms is one frame of a 60 Hz display.
STREAM_INTERVAL_S = 0.016

MLX_PROFILE = ModelProfile(
    supports_tools=True,
    supports_json_schema_output=False,
    supports_json_object_output=False,
    supports_image_input=False,
    supports_audio_input=False,
    supports_document_input=False,
    supports_video_input=False,
    supports_audio_file_input=False,
    supports_inline_system_prompts=True,
    supports_thinking=True,
    supports_forced_tool_choice=False,
    thinking_tags=("<think>", "</think>"),
    # Content is encoded with special tokens allowed: PydanticAI breaks `<|im_start|>` & co. in it.
    may_tokenize_special_tokens_in_content=True,
    default_structured_output_mode="tool",
)


class MlxModel(Model):
    unsupported_settings: ClassVar[frozenset[ModelSettingName]] = frozenset(
        {"stop_sequences", "parallel_tool_calls", "timeout", "extra_headers", "extra_body", "service_tier"}
    )

    def __init__(self, engine: Engine, session_id: str, settings: Settings, name: str) -> None:
        # The backend's generation settings are only the fallback: PydanticAI merges each request's
        # `model_settings` (the session's, see core/turn.py) over them in `prepare_request`.
        super().__init__(settings=generation_settings(settings), profile=MLX_PROFILE)
        self._engine = engine
        self._session_id = session_id
        self._name = name

    @property
    def model_name(self) -> str:
        return self._name

    @property
    def system(self) -> str:
        return "mlx"

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
        check_allow_model_requests()
        model_settings, params = self.prepare_request(model_settings, model_request_parameters)
        instructions = [part.content for part in self._get_instruction_parts(messages, params) or []]
        tools = tool_definitions(params)
        thinking = None if params.thinking is None else params.thinking is not False
        chat = chat_messages(messages, instructions)
        render = partial(render_prompt, messages=chat, tools=tools, enable_thinking=thinking)
        await self._engine.wait_ready()
        handle = self._engine.submit(GenerationRequest(self._session_id, render, self._sampling(model_settings)))
        try:
            yield MlxStreamedResponse(
                model_request_parameters=params, _model_name=self._name, _handle=handle, _tools=tools
            )
        finally:
            handle.cancel()

    def _sampling(self, model_settings: ModelSettings | None) -> Sampling:
        """Sampling for one request, from its merged `model_settings` (see `__init__`)."""
        given: dict[str, Any] = {**(self.settings or {}), **(model_settings or {})}
        bias = given.get("logit_bias") or {}
        return Sampling(
            max_tokens=int(given["max_tokens"]),
            temperature=float(given["temperature"]),
            top_p=float(given["top_p"]),
            top_k=int(given.get("top_k", 0)),
            seed=given.get("seed"),
            presence_penalty=given.get("presence_penalty"),
            frequency_penalty=given.get("frequency_penalty"),
            logit_bias={int(k): float(v) for k, v in bias.items()} or None,
        )


def _opens_reasoning(prompt: str) -> bool:
    """Templates that start the reply inside `<think>` (thinking-only Qwen3 releases)."""
    return prompt.rstrip().endswith("<think>")


@dataclass
class MlxStreamedResponse(StreamedResponse):
    _model_name: str
    _handle: JobHandle
    _tools: list[dict[str, Any]]
    _timestamp: datetime = field(default_factory=lambda: datetime.now(UTC))
    _parser: ReplyParser | None = field(default=None, init=False)

    async def _get_event_iterator(self) -> AsyncIterator[ModelResponseStreamEvent]:
        try:
            async for batch in self._handle.batches(STREAM_INTERVAL_S):
                for event in coalesced(batch):
                    for out in self._map(event):
                        yield out
        finally:
            self._handle.cancel()

    async def close_stream(self) -> None:
        self._handle.cancel()

    def _map(self, event: JobEvent) -> Iterator[ModelResponseStreamEvent]:
        if isinstance(event, Prompted):
            initial = REASONING if _opens_reasoning(event.rendered.text) else NORMAL
            self._parser = ReplyParser(self._tools, initial=initial)
            self._usage = RequestUsage(input_tokens=event.prompt_tokens, cache_read_tokens=event.cached_tokens)
        elif isinstance(event, Text):
            assert self._parser is not None
            for parsed in self._parser.feed(event.text):
                yield from self._emit(parsed)
        elif isinstance(event, Finished):
            stats = event.stats
            calls = 0
            if self._parser is not None:
                for parsed in self._parser.finish(truncated=stats.finish != "stop"):
                    yield from self._emit(parsed)
                calls = self._parser.tool_calls
            self._usage = RequestUsage(
                input_tokens=stats.prompt_tokens,
                cache_read_tokens=stats.cached_tokens,
                output_tokens=stats.generated_tokens,
                details={"prefilled_tokens": stats.prefilled_tokens},
            )
            self.provider_details = {"finish": stats.finish, "prefilled_tokens": stats.prefilled_tokens}
            if stats.finish == "stop":
                self.finish_reason = "tool_call" if calls else "stop"
            elif stats.finish in ("length", "repetition"):
                self.finish_reason = "length"
        elif isinstance(event, Failed):
            raise event.error

    def _emit(self, parsed: ParseEvent) -> Iterator[ModelResponseStreamEvent]:
        manager = self._parts_manager
        if isinstance(parsed, ReplyDelta):
            yield from manager.handle_text_delta(vendor_part_id=None, content=parsed.text)
        elif isinstance(parsed, ThinkingDelta):
            yield from manager.handle_thinking_delta(vendor_part_id=None, content=parsed.text)
        elif isinstance(parsed, ToolCallEnd):
            call = parsed.call
            # An unparsed call keeps its raw text (never valid arguments), so PydanticAI answers
            # it with a retry prompt quoting the error.
            raw = call.raw or "<no arguments>"
            yield manager.handle_tool_call_part(
                vendor_part_id=("tool", parsed.index),
                tool_name=call.name or INVALID_TOOL_NAME,
                args=json.dumps(call.arguments, ensure_ascii=False) if call.error is None else raw,
                tool_call_id=f"call_{uuid.uuid4().hex[:16]}",
            )

    @property
    def model_name(self) -> str:
        return self._model_name

    @property
    def provider_name(self) -> str:
        return "mlx"

    @property
    def provider_url(self) -> None:
        return None

    @property
    def timestamp(self) -> datetime:
        return self._timestamp
