"""`--model test`: a deterministic model that needs no weights.

It streams a short reply word by word; when the prompt names a file, it reads it with the
`read_file` tool first, so any client sees a whole tool-call lifecycle.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from pydantic_ai.messages import ModelMessage, ModelRequest, ToolReturnPart, UserPromptPart
from pydantic_ai.models import ModelRequestParameters

from punie_acp.models.replay import Call, Plan, ReplayModel, Say, Think

FILE_MENTION = re.compile(r"(?<![\w/.-])((?:[\w.-]+/)*[\w-]+\.[A-Za-z][A-Za-z0-9]{0,7})(?![\w/])")


def user_text(part: UserPromptPart) -> str:
    if isinstance(part.content, str):
        return part.content
    return " ".join(item for item in part.content if isinstance(item, str))


class DemoModel(ReplayModel):
    # Paced like a fast real model (100 tokens/s), so clients see token-by-token streaming.
    def __init__(self, chunk_delay: float = 0.01) -> None:
        super().__init__("punie-test")
        self._chunk_delay = chunk_delay

    def plan(self, messages: Sequence[ModelMessage], params: ModelRequestParameters) -> Plan:
        last = messages[-1] if messages else None
        if not isinstance(last, ModelRequest):
            return Plan([Say("Nothing to answer.")])
        returns = [p for p in last.parts if isinstance(p, ToolReturnPart)]
        if returns:
            return Plan([Say(_summary(r)) for r in returns], chunk_delay=self._chunk_delay)
        prompt = " ".join(user_text(p) for p in last.parts if isinstance(p, UserPromptPart)).strip()
        tools = {t.name for t in params.function_tools}
        mention = FILE_MENTION.search(prompt)
        if mention and "read_file" in tools:
            path = mention.group(1)
            return Plan(
                [Think(f"The prompt names {path}; reading it before answering."), Call("read_file", {"path": path})],
                chunk_delay=self._chunk_delay,
            )
        echo = prompt if len(prompt) <= 200 else prompt[:200] + "…"
        return Plan(
            [Think("Nothing to look up; answering directly."), Say(f"This is punie's test model. You said: {echo}")],
            chunk_delay=self._chunk_delay,
        )


def _summary(result: ToolReturnPart) -> str:
    text = result.model_response_str(wrap_if_error=False)
    if result.outcome != "success":
        return f"I could not use {result.tool_name}: {text}"
    lines = text.splitlines()
    first = next((line for line in lines if line.strip()), "")
    return f"I read it: {len(lines)} lines. It starts with: {first[:120]}"
