"""`--model script:FILE`: replays model responses from a JSON file, for tests and demos.

    {"chunk_delay": 0.01,
     "responses": [
        [{"think": "…"}, {"say": "…"}, {"call": "read_file", "args": {"path": "a.py"}}],
        [{"call": "read_file", "args": "{\"path\": \"a"}, {"finish": "length"}]
     ]}

`args` may also be a string: the raw JSON a model emitted, broken or not. Each model request
of a session takes the next response; when they run out the last one
repeats (a looping model, for guard tests). Each session has its own cursor.

`"by_prompt": {"<first prompt of the session>": [responses…]}` gives sessions that begin with
that prompt their own responses (test doubles for `punie eval` answer each case differently);
other sessions take `responses`.
"""

from __future__ import annotations

import json
import stat
from collections.abc import Sequence
from pathlib import Path
from typing import Any, cast

from pydantic_ai.messages import FinishReason, ModelMessage, UserPromptPart
from pydantic_ai.models import Model, ModelRequestParameters

from punie_acp.models.base import ModelNotAvailable, ProgressCallback
from punie_acp.models.replay import Call, Plan, ReplayModel, Say, Step, Think

FINISH_REASONS = ("stop", "length", "content_filter", "tool_call", "error")
MAX_SCRIPT_BYTES = 16_000_000
MAX_CHUNK_DELAY = 10.0


class ScriptError(ValueError):
    pass


def parse_script(data: Any) -> tuple[list[Plan], float]:
    if not isinstance(data, dict) or not isinstance(data.get("responses"), list) or not data["responses"]:
        raise ScriptError("a script is an object with a non-empty 'responses' list")
    delay = _number(data.get("chunk_delay", 0.0), "chunk_delay")
    if not 0.0 <= delay <= MAX_CHUNK_DELAY:
        raise ScriptError(f"chunk_delay must be between 0 and {MAX_CHUNK_DELAY:g} seconds")
    plans: list[Plan] = []
    for n, response in enumerate(data["responses"]):
        if not isinstance(response, list):
            raise ScriptError(f"response {n} must be a list of steps")
        steps: list[Step] = []
        finish: FinishReason = "stop"
        for step in response:
            if not isinstance(step, dict):
                raise ScriptError(f"response {n}: each step is an object")
            if "think" in step:
                steps.append(Think(str(step["think"])))
            elif "say" in step:
                steps.append(Say(str(step["say"])))
            elif "call" in step:
                args = step.get("args", {})
                if not isinstance(args, str | dict):
                    raise ScriptError(f"response {n}: 'args' is an object or the raw JSON text of one")
                steps.append(Call(str(step["call"]), args))
            elif "finish" in step:
                if step["finish"] not in FINISH_REASONS:
                    raise ScriptError(f"response {n}: finish must be one of {FINISH_REASONS}")
                finish = cast(FinishReason, step["finish"])
            else:
                raise ScriptError(f"response {n}: unknown step {step!r}")
        plans.append(Plan(steps, finish=finish, chunk_delay=delay))
    return plans, delay


def _number(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ScriptError(f"{name} must be a number")
    return float(value)


def _read_script(path: Path) -> str:
    """The script's text: a regular file of bounded size (not a FIFO or /dev/zero that never ends)."""
    # Checked before opening: opening a FIFO would wait for a writer.
    if not stat.S_ISREG(path.stat().st_mode):
        raise ScriptError("it is not a regular file")
    with path.open("rb") as handle:
        data = handle.read(MAX_SCRIPT_BYTES + 1)
    if len(data) > MAX_SCRIPT_BYTES:
        raise ScriptError(f"it is larger than {MAX_SCRIPT_BYTES // 1_000_000} MB")
    return data.decode("utf-8", errors="replace")


def parse_by_prompt(data: Any) -> dict[str, list[Plan]]:
    table = data.get("by_prompt", {}) if isinstance(data, dict) else {}
    if not isinstance(table, dict):
        raise ScriptError("'by_prompt' maps prompts to response lists")
    plans: dict[str, list[Plan]] = {}
    for prompt, responses in table.items():
        try:
            plans[prompt], _ = parse_script({"chunk_delay": data.get("chunk_delay", 0.0), "responses": responses})
        except ScriptError as exc:
            raise ScriptError(f"by_prompt {prompt[:40]!r}: {exc}") from None
    return plans


def _first_prompt(messages: Sequence[ModelMessage]) -> str | None:
    for message in messages:
        for part in getattr(message, "parts", ()):
            if isinstance(part, UserPromptPart) and isinstance(part.content, str):
                return part.content
    return None


class ScriptedModel(ReplayModel):
    def __init__(self, plans: Sequence[Plan], by_prompt: dict[str, list[Plan]] | None = None) -> None:
        super().__init__("punie-script")
        self._plans = list(plans)
        self._by_prompt = by_prompt or {}
        self._cursor = 0

    def plan(self, messages: Sequence[ModelMessage], params: ModelRequestParameters) -> Plan:
        plans = self._plans
        if self._by_prompt:
            plans = self._by_prompt.get(_first_prompt(messages) or "", plans)
        plan = plans[min(self._cursor, len(plans) - 1)]
        self._cursor += 1
        return plan


class ScriptedBackend:
    def __init__(self, path: Path) -> None:
        try:
            data = json.loads(_read_script(path))
        except OSError as exc:
            raise ModelNotAvailable(f"cannot read model script {path}: {exc.strerror or exc}") from exc
        except json.JSONDecodeError as exc:
            raise ModelNotAvailable(f"model script {path} is not valid JSON: {exc}") from exc
        except (ScriptError, RecursionError) as exc:
            raise ModelNotAvailable(f"model script {path} cannot be used: {exc}") from exc
        try:
            self._plans, _ = parse_script(data)
            self._by_prompt = parse_by_prompt(data)
        except ScriptError as exc:
            raise ModelNotAvailable(f"model script {path}: {exc}") from exc
        self._path = path
        self._models: dict[str, ScriptedModel] = {}

    @property
    def name(self) -> str:
        return f"script:{self._path.name}"

    def start_loading(self) -> None:
        return None

    async def ensure_ready(self, on_progress: ProgressCallback) -> None:
        return None

    def model_for(self, session_id: str) -> Model:
        if session_id not in self._models:
            self._models[session_id] = ScriptedModel(self._plans, self._by_prompt)
        return self._models[session_id]

    def forget_session(self, session_id: str) -> None:
        self._models.pop(session_id, None)

    async def aclose(self) -> None:
        return None
