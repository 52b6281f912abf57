"""Every setting, once: its default, what values it takes, its help text, and who may set it.

Three kinds of owner:
- the server (model, draft model, limits, logging): flags, env `PUNIE_*`, the user file;
- generation (max_tokens, temperature, top_p, seed): per session, sent with every model request as
  PydanticAI `model_settings`, so every backend honours them; a project may set them;
- session policy (mode, command_timeout): a project may set them beneath flags and env, and a
  project's mode only ever makes the session stricter. `project_tools` (run the project's own
  ruff/ty, i.e. project code) is a trust decision and therefore the user's alone.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from punie_acp.settings.kinds import Choice, Kind, Number, Switch, Text, WholeNumber, shown

DEFAULT_MODEL = "mlx-community/Qwen3-Coder-30B-A3B-Instruct-4bit"
# Least to most permissive; a project may only move the session to the left.
MODE_ORDER = ("read-only", "ask", "auto-edit")
TOOL_STYLES = ("direct", "code", "both")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
# Past a week a timeout is no limit, and select()/poll() overflow on absurd ones.
LONGEST_TIMEOUT_S = 7 * 24 * 3600.0


@dataclass(frozen=True)
class ModelList(Kind):
    """Model specs a session may switch between: a TOML list, or comma-separated text from a flag."""

    def expected(self) -> str:
        return "a list of model specs"

    def from_text(self, raw: str) -> object:
        return tuple(part.strip() for part in raw.split(",") if part.strip())

    def check(self, value: object) -> tuple[str, ...]:
        if not isinstance(value, list | tuple) or len(value) > 64:
            raise self._refuse(value)
        specs: list[str] = []
        for item in value:
            if not isinstance(item, str) or not item.strip() or "\x00" in item or len(item) > 4096:
                raise ValueError(f"expected model specs (non-empty strings), got {shown(item)}")
            if item not in specs:
                specs.append(item)
        return tuple(specs)


def user_config_path() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "punie" / "config.toml"


def default_log_path() -> Path:
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "punie" / "punie.log"


def default_store_path() -> Path:
    return default_log_path().with_name("sessions.db")


@dataclass(frozen=True)
class Spec:
    kind: Kind
    help: str
    group: str
    # A project's `[tool.punie]` may set it (beneath flags and env, above the user file).
    project: bool = False


def _setting(default: Any, kind: Kind, help: str, group: str, *, project: bool = False) -> Any:
    spec = Spec(kind, help, group, project)
    if callable(default):
        return field(default_factory=default, metadata={"spec": spec})
    return field(default=default, metadata={"spec": spec})


@dataclass(frozen=True)
class Settings:
    model: str = _setting(
        DEFAULT_MODEL,
        Text(),
        "'test' (built-in deterministic model), 'script:FILE', an OpenAI-compatible URL "
        "(http://host:port/v1[/name]), or an mlx model directory / Hugging Face repo id",
        "model",
    )
    models: tuple[str, ...] = _setting(
        (),
        ModelList(),
        "more models a session may switch to (the model config option), besides --model; each is "
        "loaded when first chosen and shared by every session using it",
        "model",
    )
    context_tokens: int = _setting(
        32768,
        WholeNumber(1024, 1 << 24),
        "the model's context size in tokens: shown as usage; history is compacted before it overflows",
        "model",
    )
    draft_model: str | None = _setting(None, Text(), "mlx draft model for speculative decoding", "model")
    num_draft_tokens: int = _setting(3, WholeNumber(1, 64), "tokens the draft model proposes per step", "model")
    prompt_lookup: bool = _setting(
        True,
        Switch(),
        "mlx: draft tokens by finding the latest tokens earlier in the context (edits copy files they "
        "read) and verify them in one pass; output unchanged (not combined with --draft-model)",
        "model",
    )
    unquantized_experts: bool = _setting(
        True,
        Switch(),
        "mlx on CUDA: prefill chunks of 256+ tokens run a MoE model's quantized experts dequantized "
        "(same result, several times faster there); off keeps mlx-lm's quantized kernel throughout",
        "model",
    )
    lookup_draft_tokens: int = _setting(8, WholeNumber(1, 64), "most tokens prompt lookup drafts per pass", "model")
    lookup_ngram: int = _setting(3, WholeNumber(1, 16), "longest n-gram prompt lookup matches", "model")
    tool_style: str = _setting(
        "direct",
        Choice(TOOL_STYLES),
        "how the model uses tools: direct (one call per step), code (run_code: a Python program calling "
        "the tools, in the Monty sandbox), or both",
        "model",
    )
    max_tokens: int = _setting(
        4096, WholeNumber(1, 1 << 20), "most tokens in one model reply", "generation", project=True
    )
    temperature: float = _setting(
        0.0, Number(at_least=0.0, at_most=2.0), "sampling temperature, 0 for greedy", "generation", project=True
    )
    top_p: float = _setting(
        1.0, Number(above=0.0, at_most=1.0), "nucleus sampling probability mass, 1 for off", "generation", project=True
    )
    seed: int | None = _setting(
        None,
        WholeNumber(0),
        "sampling seed sent with every request, so a sampled (temperature > 0) run can be repeated; none: unseeded",
        "generation",
        project=True,
    )
    request_limit: int = _setting(50, WholeNumber(), "model requests per prompt", "limits")
    tool_calls_limit: int = _setting(100, WholeNumber(), "tool calls per prompt", "limits")
    max_cached_sessions: int = _setting(4, WholeNumber(), "sessions whose KV cache stays in memory", "limits")
    prefill_step_size: int = _setting(
        0,
        WholeNumber(minimum=0),
        "tokens per prefill chunk of the in-process model (fixed: one shape per chunk); 0: per device, "
        "2048 on a GPU (mlx-lm's), 256 on the CPU (a cancel waits for one layer of one chunk)",
        "limits",
    )
    max_open_sessions: int = _setting(
        32, WholeNumber(), "open sessions; when full, the least recently used idle one is closed", "limits"
    )
    max_message_bytes: int = _setting(
        50 * 1024 * 1024, WholeNumber(1024), "longest JSON-RPC line accepted from the editor", "limits"
    )
    code_time_limit: float = _setting(
        30.0, Number(above=0.0, at_most=3600.0), "seconds of computing a run_code program may use", "limits"
    )
    code_memory_mb: int = _setting(256, WholeNumber(1, 1 << 16), "megabytes a run_code program may use", "limits")
    code_max_calls: int = _setting(50, WholeNumber(1, 10_000), "tool calls one run_code program may make", "limits")
    mode: str = _setting(
        "ask",
        Choice(MODE_ORDER),
        "ask: ask before edits and commands; auto-edit: edit without asking; read-only: no edits, no commands",
        "session",
        project=True,
    )
    command_timeout: float = _setting(
        120.0,
        Number(above=0.0, at_most=LONGEST_TIMEOUT_S),
        "seconds a command may run unless the model asks for less",
        "session",
        project=True,
    )
    project_tools: bool = _setting(
        False, Switch(), "run the project's own ruff/ty from its .venv (that is running project code)", "session"
    )
    language_servers: str | None = _setting(
        None,
        Text(),
        "language servers for code intelligence beyond punie's own ty, by file extension: "
        "'.rs=rust-analyzer; .ts,.tsx=typescript-language-server --stdio' (a program punie starts: user-level only)",
        "session",
    )
    session_store: str = _setting(
        lambda: str(default_store_path()),
        Text(),
        "SQLite file where sessions are kept across restarts; 'none' keeps them in memory only",
        "sessions",
    )
    prompt_cache_bytes: int = _setting(
        2 << 30,
        WholeNumber(0, 1 << 50),
        "most bytes of saved KV caches (mlx) beside the session store; least recently used go first; 0 saves none",
        "sessions",
    )
    log_file: str = _setting(lambda: str(default_log_path()), Text(), "log file", "logging")
    log_level: str = _setting("INFO", Choice(LOG_LEVELS, fold_case=True), "log level of the log file", "logging")
    # Names set by a flag or an environment variable: a project's table never overrides them.
    explicit: frozenset[str] = field(default=frozenset(), compare=False, repr=False)

    def for_project(self, root: Path) -> Settings:
        """These settings with the project's `[tool.punie]` layered beneath flags and env.

        Raises `SettingsError` (one line naming the file and key) for a bad table.
        """
        # layers builds on this module, so it is imported at the call.
        from punie_acp.settings.layers import with_project

        return with_project(self, root)


SPECS: dict[str, Spec] = {f.name: f.metadata["spec"] for f in fields(Settings) if "spec" in f.metadata}
PROJECT_KEYS: tuple[str, ...] = tuple(name for name, spec in SPECS.items() if spec.project)


def stricter(mode: str, than: str) -> bool:
    return MODE_ORDER.index(mode) < MODE_ORDER.index(than)
