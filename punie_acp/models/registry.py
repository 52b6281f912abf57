"""`--model SPEC` to a backend: `test`, `script:FILE`, an OpenAI-compatible URL, or an mlx model."""

from __future__ import annotations

from pathlib import Path

from punie_acp.config import Settings
from punie_acp.models.base import ModelBackend, StatelessBackend
from punie_acp.models.demo import DemoModel


def resolve_backend(spec: str, settings: Settings) -> ModelBackend:
    if spec == "test":
        return StatelessBackend(DemoModel(), "punie-test")
    if spec.startswith("script:"):
        from punie_acp.models.scripted import ScriptedBackend

        return ScriptedBackend(Path(spec[len("script:") :]).expanduser())
    if spec.startswith(("http://", "https://")):
        from punie_acp.models.openai_compat import openai_backend

        return openai_backend(spec, settings)
    # Imported here: the mlx backend pulls in mlx-lm lazily, but keep even its module off start-up.
    from punie_acp.models.mlx import MlxBackend

    return MlxBackend(spec, settings)
