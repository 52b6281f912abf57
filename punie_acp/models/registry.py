"""`--model SPEC` to a backend: `test`, `script:FILE`, an OpenAI-compatible URL, or an mlx model."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

from punie_acp.config import Settings
from punie_acp.models.base import ModelBackend, ModelNotAvailable, StatelessBackend
from punie_acp.models.demo import DemoModel

_CHOICES = (
    "Pass 'test', 'script:FILE', an OpenAI-compatible URL (http://host:port/v1[/model]), "
    "or an mlx model directory or Hugging Face repo id."
)


def check_url(url: str) -> None:
    """Refuse a server URL that cannot be connected to, before any request is made."""
    try:
        parts = urlsplit(url)
        port = parts.port  # ValueError when out of range or not a number
    except ValueError as exc:
        raise ModelNotAvailable(f"--model {url!r} is not a usable URL ({exc}). {_CHOICES}") from None
    if not parts.hostname:
        raise ModelNotAvailable(f"--model {url!r} names no host. {_CHOICES}")
    if port == 0:
        raise ModelNotAvailable(f"--model {url!r}: port 0 cannot be connected to. {_CHOICES}")


def resolve_backend(spec: str, settings: Settings) -> ModelBackend:
    """The backend for `spec`; raises `ModelNotAvailable` (one line saying what to pass) for a bad one."""
    if not spec.strip():
        raise ModelNotAvailable(f"--model is empty. {_CHOICES}")
    if spec == "test":
        return StatelessBackend(DemoModel(), "punie-test")
    if spec.startswith("script:"):
        from punie_acp.models.scripted import ScriptedBackend

        return ScriptedBackend(Path(spec[len("script:") :]).expanduser())
    if spec.startswith(("http://", "https://")):
        from punie_acp.models.openai_compat import openai_backend

        check_url(spec)
        return openai_backend(spec, settings)
    if "://" in spec:
        raise ModelNotAvailable(f"--model {spec!r}: only http:// and https:// servers are supported. {_CHOICES}")
    # Imported here: the mlx backend pulls in mlx-lm lazily, but keep even its module off start-up.
    from punie_acp.models.mlx import MlxBackend
    from punie_acp.models.mlx.persist import saved_caches_for

    backend = MlxBackend(spec, settings)
    backend.engine.saved = saved_caches_for(settings)  # KV caches beside the session store
    return backend
