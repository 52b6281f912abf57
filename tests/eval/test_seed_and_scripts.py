"""The `seed` setting reaches the model request; the scripted model's per-prompt responses (for the doubles)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic_ai import Agent

from punie_acp.config import Settings, generation_settings, load_settings
from punie_acp.models.base import ModelNotAvailable
from punie_acp.models.openai_compat import openai_backend
from punie_acp.models.scripted import ScriptedBackend
from tests.support.fake_openai import recording_openai_server

pytestmark = pytest.mark.anyio


def test_seed_is_a_setting_sent_only_when_set() -> None:
    assert "seed" not in generation_settings(Settings())
    assert generation_settings(Settings(seed=7))["seed"] == 7
    assert load_settings({"seed": 11}, environ={}).seed == 11
    assert load_settings(None, environ={"PUNIE_SEED": "5"}).seed == 5
    with pytest.raises(ValueError, match="whole number"):
        load_settings(None, environ={"PUNIE_SEED": "-1"})


async def test_an_openai_compatible_server_receives_the_seed() -> None:
    with recording_openai_server() as server:
        agent = Agent(openai_backend(server.url, Settings()).model_for("s"))
        async with agent.run_stream("hi", model_settings=generation_settings(Settings(seed=42))) as run:
            await run.get_output()
    assert server.chat_requests()[0].get("seed") == 42


def _backend(tmp_path: Path, data: object) -> ScriptedBackend:
    path = tmp_path / "script.json"
    path.write_text(json.dumps(data))
    return ScriptedBackend(path)


async def test_sessions_get_the_responses_of_their_first_prompt(tmp_path: Path) -> None:
    backend = _backend(
        tmp_path,
        {"responses": [[{"say": "default"}]], "by_prompt": {"one": [[{"say": "first"}], [{"say": "again"}]]}},
    )
    one: Agent[None, str] = Agent(backend.model_for("a"))
    other: Agent[None, str] = Agent(backend.model_for("b"))
    first = await one.run("one")
    assert first.output == "first"
    assert (await one.run("next", message_history=first.all_messages())).output == "again"
    assert (await other.run("two")).output == "default"


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({"responses": [[{"say": "x"}]], "by_prompt": []}, "maps prompts"),
        ({"responses": [[{"say": "x"}]], "by_prompt": {"p": []}}, "by_prompt 'p'"),
        ({"responses": [[{"say": "x"}]], "by_prompt": {"p": [[{"jump": 1}]]}}, "unknown step"),
    ],
)
def test_bad_per_prompt_responses_are_refused(tmp_path: Path, data: object, expected: str) -> None:
    with pytest.raises(ModelNotAvailable, match=expected):
        _backend(tmp_path, data)
