"""A session's configuration options, editor-neutral: the model, thinking on/off, and the mode.

Each option is a select (ACP `session/set_config_option`): every client can show one, whereas a
boolean option needs the client to advertise support. Thinking is therefore "on"/"off".
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from punie_acp.core.errors import BadRequest
from punie_acp.core.modes import MODES
from punie_acp.core.session import Session, quoted
from punie_acp.models.registry import ModelCatalog

OptionCategory = Literal["mode", "model", "thought_level"]
MODEL, THINKING, MODE = "model", "thinking", "mode"
THINKING_VALUES = ("on", "off")


@dataclass(frozen=True)
class Choice:
    value: str
    name: str
    description: str | None = None


@dataclass(frozen=True)
class ConfigOption:
    id: str
    name: str
    category: OptionCategory
    current: str
    choices: tuple[Choice, ...]
    description: str | None = None


@dataclass
class SessionChoices:
    """What a session chose beyond its mode (the mode lives on the session itself)."""

    model_spec: str
    thinking: bool = True


def options_for(session: Session, choices: SessionChoices, catalog: ModelCatalog) -> list[ConfigOption]:
    model_value = next((v for v, _ in catalog.choices() if catalog.spec_of(v) == choices.model_spec), "default")
    return [
        ConfigOption(
            MODEL,
            "Model",
            "model",
            model_value,
            tuple(Choice(value, name) for value, name in catalog.choices()),
            "The model this session's next prompt runs on",
        ),
        ConfigOption(
            THINKING,
            "Thinking",
            "thought_level",
            "on" if choices.thinking else "off",
            (
                Choice("on", "On", "Think before answering (hybrid-thinking models such as Qwen3)"),
                Choice("off", "Off", "Answer directly: faster, fewer tokens"),
            ),
            "Whether a hybrid-thinking model reasons before it answers",
        ),
        ConfigOption(
            MODE,
            "Mode",
            "mode",
            session.mode_id,
            tuple(Choice(m.id, m.name, m.description) for m in MODES.values()),
            "How much punie may change without asking",
        ),
    ]


def thinking_value(value: str | bool) -> bool:
    if isinstance(value, bool):
        return value
    if value not in THINKING_VALUES:
        raise BadRequest(f"unknown thinking value {quoted(value)}; choose on or off")
    return value == "on"


def text_value(config_id: str, value: str | bool) -> str:
    if not isinstance(value, str):
        raise BadRequest(f"config option {quoted(config_id)} takes one of its listed values, not a boolean")
    return value


def unknown_option(config_id: str) -> BadRequest:
    return BadRequest(f"unknown config option {quoted(config_id)}; punie has {MODEL}, {THINKING} and {MODE}")
