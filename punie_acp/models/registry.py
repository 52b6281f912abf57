"""`--model SPEC` to a backend: `test`, `script:FILE`, an OpenAI-compatible URL, or an mlx model."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from punie_acp.config import Settings
from punie_acp.models.base import ModelBackend, ModelNotAvailable
from punie_acp.models.deferred import DeferredBackend

if TYPE_CHECKING:
    from pydantic_ai.models import Model

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


def _demo_model() -> Model:
    from punie_acp.models.demo import DemoModel

    return DemoModel()


def resolve_backend(spec: str, settings: Settings) -> ModelBackend:
    """The backend for `spec`; raises `ModelNotAvailable` (one line saying what to pass) for a bad one."""
    if not spec.strip():
        raise ModelNotAvailable(f"--model is empty. {_CHOICES}")
    if spec == "test":
        return DeferredBackend(_demo_model, "punie-test")
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


def display_name(spec: str) -> str:
    """How a model spec is shown in the model picker: short, and never a secret in a URL."""
    if spec == "test":
        return "punie-test"
    if spec.startswith("script:"):
        return "script " + Path(spec[len("script:") :]).name
    if spec.startswith(("http://", "https://")):
        try:
            parts = urlsplit(spec)
            path = parts.path.rstrip("/")
            host = parts.hostname or "?"
            return f"{path.rsplit('/', 1)[-1] or host} ({host})"
        except ValueError:
            return "unusable URL"
    return Path(spec.rstrip("/")).name or spec


class ModelCatalog:
    """The models a session may choose from: `--model` first, then the `models` setting.

    A backend is built only when a session first chooses its model, and then shared by every
    session on it (one copy of the weights). A spec that cannot be built stays listed and the
    prompt fails with the one-line reason, as for `--model`.
    """

    def __init__(self, default: ModelBackend, settings: Settings) -> None:
        self._settings = settings
        self.default_spec = settings.model
        specs = [settings.model, *(s for s in settings.models if s != settings.model)]
        self.specs: tuple[str, ...] = tuple(specs)
        self._backends: dict[str, ModelBackend] = {settings.model: default}

    def choices(self) -> list[tuple[str, str]]:
        """(value, name) for every model; the value is the spec's position, so no path or URL goes out as an id."""
        default_name = self._backends[self.default_spec].name
        return [(model_id(i), default_name if i == 0 else display_name(spec)) for i, spec in enumerate(self.specs)]

    def spec_of(self, value: str) -> str | None:
        for i, spec in enumerate(self.specs):
            if model_id(i) == value:
                return spec
        return None

    def backend(self, spec: str) -> ModelBackend:
        backend = self._backends.get(spec)
        if backend is None:
            from punie_acp.models.base import UnavailableBackend

            try:
                backend = resolve_backend(spec, self._settings)
            except ModelNotAvailable as exc:
                backend = UnavailableBackend(str(exc))
            self._backends[spec] = backend
        return backend

    def built(self) -> list[ModelBackend]:
        return list(self._backends.values())


def model_id(index: int) -> str:
    return "default" if index == 0 else f"model-{index}"
