"""Config options (model, thinking, mode), usage and the auth method, through the in-process ACP tier."""

from __future__ import annotations

import json
from pathlib import Path

import acp
import anyio
import pytest
from acp import schema

from punie_acp.config import Settings
from tests.acp.loopback import loopback, scripted
from tests.panel.doubles import ForgetRecordingBackend, RecordingModel
from tests.support.acp_client import text_prompt

pytestmark = pytest.mark.anyio


def _script(directory: Path, text: str) -> str:
    path = directory / "other-model.json"
    path.write_text(json.dumps({"responses": [[{"say": text}]]}))
    return f"script:{path}"


def _current(options: list[schema.SessionConfigOptionSelect | schema.SessionConfigOptionBoolean]) -> dict[str, object]:
    return {o.id: o.current_value for o in options}


async def test_initialize_offers_one_honest_auth_method_that_succeeds() -> None:
    async with loopback() as lb:
        init = await lb.conn.initialize(protocol_version=1, client_capabilities=lb.client.capabilities())
        methods = init.auth_methods or []
        assert [m.id for m in methods] == ["local"]
        assert methods[0].description == "no sign-in: runs locally"
        await lb.conn.authenticate(method_id="local")


async def test_new_session_lists_model_thinking_and_mode(project: Path, tmp_path: Path) -> None:
    settings = Settings(
        log_file="", model="test", models=(_script(tmp_path, "x"), "http://127.0.0.1:9/v1/secret-model")
    )
    async with loopback(settings=settings) as lb:
        await lb.conn.initialize(protocol_version=1, client_capabilities=lb.client.capabilities())
        response = await lb.conn.new_session(cwd=str(project), mcp_servers=[])
    options = {o.id: o for o in response.config_options or []}
    assert set(options) == {"model", "thinking", "mode"}
    assert options["model"].category == "model" and options["thinking"].category == "thought_level"
    assert options["mode"].category == "mode"
    assert _current(response.config_options or []) == {"model": "default", "thinking": "on", "mode": "ask"}
    model_choices = options["model"].options
    assert [c.value for c in model_choices] == ["default", "model-1", "model-2"]
    # Nothing but a short name goes out: no file path, no URL.
    assert all("/" not in c.name for c in model_choices)


async def test_switching_the_model_uses_it_at_once_and_drops_the_old_models_session_state(
    project: Path, tmp_path: Path
) -> None:
    first = ForgetRecordingBackend(RecordingModel(reply="from the first model").model(), "first")
    settings = Settings(log_file="", model="test", models=(_script(tmp_path, "from the second model"),))
    async with loopback(first, settings) as lb:
        sid = await lb.start_session(project)
        await lb.conn.prompt(session_id=sid, prompt=text_prompt("hello"))
        assert lb.client.message_text(sid) == "from the first model"
        changed = await lb.conn.set_config_option(config_id="model", session_id=sid, value="model-1")
        assert changed is not None and _current(changed.config_options)["model"] == "model-1"
        assert first.forgotten == [sid]
        lb.client.updates[sid].clear()
        await lb.conn.prompt(session_id=sid, prompt=text_prompt("hello again"))
        assert lb.client.message_text(sid) == "from the second model"
        # The other model is shared, not rebuilt, when switching back and forth.
        built = lb.core.catalog.built()
        await lb.conn.set_config_option(config_id="model", session_id=sid, value="default")
        await lb.conn.set_config_option(config_id="model", session_id=sid, value="model-1")
        assert lb.core.catalog.built() == built


@pytest.mark.parametrize(
    ("config_id", "value", "message"),
    [
        ("model", "model-9", "unknown model"),
        ("model", True, "not a boolean"),
        ("thinking", "maybe", "choose on or off"),
        ("mode", "yolo", "unknown mode"),
        ("temperature", "1", "unknown config option"),
    ],
)
async def test_bad_config_values_are_refused_with_one_line(
    project: Path, config_id: str, value: str | bool, message: str
) -> None:
    async with loopback() as lb:
        sid = await lb.start_session(project)
        with pytest.raises(acp.RequestError) as info:
            await lb.conn.set_config_option(config_id=config_id, session_id=sid, value=value)
    assert info.value.code == -32602
    assert message in str(info.value)


async def test_thinking_off_reaches_the_model_request(project: Path) -> None:
    recorder = RecordingModel()
    backend = ForgetRecordingBackend(recorder.model(), "hybrid")
    async with loopback(backend) as lb:
        sid = await lb.start_session(project)
        await lb.conn.prompt(session_id=sid, prompt=text_prompt("think about it"))
        await lb.conn.set_config_option(config_id="thinking", session_id=sid, value="off")
        await lb.conn.prompt(session_id=sid, prompt=text_prompt("answer directly"))
    assert [s.thinking for s in recorder.seen] == [None, False]


async def test_mode_through_the_config_option_applies_and_is_announced(project: Path) -> None:
    async with loopback() as lb:
        sid = await lb.start_session(project)
        changed = await lb.conn.set_config_option(config_id="mode", session_id=sid, value="read-only")
        assert changed is not None and _current(changed.config_options)["mode"] == "read-only"
        assert lb.core.session(sid).mode_id == "read-only"
        modes = [u for u in lb.client.updates[sid] if u.session_update == "current_mode_update"]
        assert [u.current_mode_id for u in modes] == ["read-only"]
        # And the other way round: set_mode tells config-option clients.
        await lb.conn.set_session_mode(session_id=sid, mode_id="auto-edit")
        updates = [u for u in lb.client.updates[sid] if u.session_update == "config_option_update"]
        assert updates and _current(updates[-1].config_options)["mode"] == "auto-edit"


async def test_usage_update_after_each_turn(project: Path) -> None:
    settings = Settings(log_file="", context_tokens=65536)
    async with loopback(settings=settings) as lb:
        sid = await lb.start_session(project)
        await lb.conn.prompt(session_id=sid, prompt=text_prompt("what is in hello.py?"))
        first = [u for u in lb.client.updates[sid] if u.session_update == "usage_update"]
        await lb.conn.prompt(session_id=sid, prompt=text_prompt("and again?"))
        usage = [u for u in lb.client.updates[sid] if u.session_update == "usage_update"]
    assert len(first) == 1 and len(usage) == 2
    assert lb.client.kinds(sid)[-1] == "usage_update"  # after the turn's own updates
    assert all(u.size == 65536 for u in usage)
    assert 0 < usage[0].used < usage[1].used  # the history grew


async def test_the_model_cannot_change_mid_turn(project: Path, tmp_path: Path) -> None:
    settings = Settings(log_file="", model="test", models=(_script(tmp_path, "x"),))
    slow = scripted([[{"say": "slowly " * 200}]], chunk_delay=0.05)
    async with loopback(slow, settings) as lb:
        sid = await lb.start_session(project)
        async with anyio.create_task_group() as tg:
            tg.start_soon(lambda: lb.conn.prompt(session_id=sid, prompt=text_prompt("go")))
            await lb.client.wait_for(sid, lambda ups: any(u.session_update == "agent_message_chunk" for u in ups))
            with pytest.raises(acp.RequestError) as info:
                await lb.conn.set_config_option(config_id="model", session_id=sid, value="model-1")
            # Thinking and mode may change: they apply from the next model request.
            await lb.conn.set_config_option(config_id="thinking", session_id=sid, value="off")
            await lb.conn.cancel(session_id=sid)
        choices = lb.core.session_choices(sid)
    assert "cannot change while a prompt runs" in str(info.value)
    assert choices.model_spec == "test" and choices.thinking is False
