"""Keeping a session's history inside the model's context.

Before a turn, when the history would take more than `COMPACT_AT` of the context, it is made
smaller in two steps, cheapest first:

1. old tool outputs (every turn but the last) are replaced by a one-line note of their size;
2. if that is not enough, the turns before the last are replaced by a summary the model writes.

The history is cut only at the start of a turn (a user prompt), so no tool call loses its
result. The user is told in the conversation what was done. Only the model's working history
shrinks: the editor's transcript (and the session store's) keep everything.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, replace

from pydantic_ai import Agent
from pydantic_ai.messages import (
    ModelMessage,
    ModelRequest,
    ModelRequestPart,
    ModelResponse,
    TextPart,
    ThinkingPart,
    ToolCallPart,
    ToolReturnPart,
    UserPromptPart,
)
from pydantic_ai.models import Model
from pydantic_ai.settings import ModelSettings

log = logging.getLogger(__name__)

CHARS_PER_TOKEN = 4  # an estimate for what the model has not counted itself
COMPACT_AT = 0.75  # of the context: leaves room for the next reply and its tool outputs
AIM_AT = 0.5  # after step 1, a history this small needs no summary
ELIDED_PREFIX = "[output elided to save context"
SUMMARY_PREFIX = "[Summary of the earlier conversation, written when it was compacted]"
_SUMMARY_INPUT_CHARS = 4000  # per message given to the summarizer
_SUMMARY_REQUEST = (
    "Summarize the conversation so far for yourself, to continue the work with only this summary: "
    "the user's goals, what was done (files changed, commands run, results), decisions, and what "
    "is still open. Be concise and concrete; name files and symbols. Use no tools."
)


def _args_text(part: ToolCallPart) -> str:
    # Never through JSON: the model's arguments may hold lone surrogates, which JSON refuses.
    return part.args if isinstance(part.args, str) else repr(part.args)


def _return_text(part: ToolReturnPart) -> str:
    content = part.content
    return content if isinstance(content, str) else repr(content)


def _part_chars(part: object) -> int:
    if isinstance(part, UserPromptPart):
        return len(part.content) if isinstance(part.content, str) else 200 * len(part.content)
    if isinstance(part, ToolReturnPart):
        return len(_return_text(part))
    if isinstance(part, ToolCallPart):
        return len(part.tool_name) + len(_args_text(part))
    if isinstance(part, TextPart | ThinkingPart):
        return len(part.content)
    content = getattr(part, "content", "")
    return len(content) if isinstance(content, str) else 0


def estimate_tokens(messages: Sequence[ModelMessage]) -> int:
    return sum(_part_chars(p) for m in messages for p in m.parts) // CHARS_PER_TOKEN


def context_used(messages: Sequence[ModelMessage]) -> int:
    """Tokens the history takes: the model's own count for its last request, plus an estimate of
    what came after it (tool results); an estimate throughout when the model counted nothing."""
    for i in range(len(messages) - 1, -1, -1):
        message = messages[i]
        if isinstance(message, ModelResponse) and message.usage.input_tokens > 0:
            counted = message.usage.input_tokens + message.usage.output_tokens
            return counted + estimate_tokens(messages[i + 1 :])
    return estimate_tokens(messages)


def turn_starts(messages: Sequence[ModelMessage]) -> list[int]:
    return [
        i
        for i, m in enumerate(messages)
        if isinstance(m, ModelRequest) and any(isinstance(p, UserPromptPart) for p in m.parts)
    ]


def elide_tool_outputs(messages: Sequence[ModelMessage]) -> tuple[list[ModelMessage], int]:
    """The history with tool outputs before the last turn replaced by a size note; and how many."""
    starts = turn_starts(messages)
    keep_from = starts[-1] if starts else len(messages)
    out: list[ModelMessage] = []
    count = 0
    for i, message in enumerate(messages):
        if i < keep_from and isinstance(message, ModelRequest):
            parts: list[ModelRequestPart] = []
            for part in message.parts:
                if type(part) is ToolReturnPart and not str(part.content).startswith(ELIDED_PREFIX):
                    size = len(_return_text(part))
                    if size > 200:
                        note = f"{ELIDED_PREFIX}: {size} characters]"
                        parts.append(ToolReturnPart(part.tool_name, note, part.tool_call_id, timestamp=part.timestamp))
                        count += 1
                        continue
                parts.append(part)
            message = replace(message, parts=parts)
        out.append(message)
    return out, count


def _shortened(messages: Sequence[ModelMessage]) -> list[ModelMessage]:
    """What the summarizer reads: each part cut to a few thousand characters, tool calls as text."""
    out: list[ModelMessage] = []
    for message in messages:
        if isinstance(message, ModelRequest):
            texts = [
                f"{type(p).__name__}: {_cut(p.content if isinstance(p.content, str) else str(p.content))}"
                for p in message.parts
                if isinstance(p, UserPromptPart | ToolReturnPart)
            ]
            if texts:
                out.append(ModelRequest(parts=[UserPromptPart("\n".join(texts))]))
        else:
            texts = [_cut(p.content) for p in message.parts if isinstance(p, TextPart)]
            texts += [
                f"(called {p.tool_name} {_cut(_args_text(p))})" for p in message.parts if isinstance(p, ToolCallPart)
            ]
            if texts:
                out.append(ModelResponse(parts=[TextPart("\n".join(texts))]))
    return out


def _cut(text: str) -> str:
    return text if len(text) <= _SUMMARY_INPUT_CHARS else text[:_SUMMARY_INPUT_CHARS] + "…"


async def summarize(model: Model, messages: Sequence[ModelMessage], settings: ModelSettings) -> str:
    agent: Agent[None, str] = Agent(model, output_type=str)
    result = await agent.run(_SUMMARY_REQUEST, message_history=_shortened(messages), model_settings=settings)
    return result.output.strip()


@dataclass(frozen=True)
class Compacted:
    history: list[ModelMessage]
    notice: str  # what the user is told


def needs_compaction(messages: Sequence[ModelMessage], context_tokens: int) -> bool:
    return context_used(messages) > COMPACT_AT * context_tokens


async def compact(
    messages: Sequence[ModelMessage],
    context_tokens: int,
    model: Model,
    settings: ModelSettings,
    *,
    forced: bool = False,
) -> Compacted | None:
    """A smaller history and a notice, or None when there is nothing to compact."""
    before = context_used(messages)
    history, elided = elide_tool_outputs(messages)
    steps: list[str] = []
    if elided:
        steps.append(f"{elided} old tool output{'s' if elided != 1 else ''} shortened")
    starts = turn_starts(history)
    small_enough = estimate_tokens(history) <= AIM_AT * context_tokens
    if (forced or not small_enough) and len(starts) >= 2:
        head, tail = history[: starts[-1]], history[starts[-1] :]
        try:
            summary = await summarize(model, head, settings)
        except Exception as exc:  # the model failed: drop the head rather than overflow
            log.warning("summary for compaction failed: %s", exc, exc_info=True)
            summary = "(no summary: the model could not write one; the earlier conversation was dropped)"
        history = [
            ModelRequest(parts=[UserPromptPart(f"{SUMMARY_PREFIX}\n{summary}")]),
            ModelResponse(parts=[TextPart("Understood; I will continue from this summary.")]),
            *tail,
        ]
        steps.append(f"{len(starts) - 1} earlier turn{'s' if len(starts) != 2 else ''} summarized")
    if not steps:
        return None
    after = estimate_tokens(history)
    notice = (
        f"_Context compacted ({', '.join(steps)}): about {before:,} → {after:,} of {context_tokens:,} tokens. "
        "The full conversation stays in this transcript._\n\n"
    )
    return Compacted(history, notice)
