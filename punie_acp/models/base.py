"""What the core needs from a model backend.

A backend owns whatever is expensive (weights, a connection) and hands each session its own
PydanticAI `Model` view, so per-session state such as a KV cache stays keyed by session.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:  # importing PydanticAI costs ~1 s; backends that need it import it themselves
    from pydantic_ai.models import Model

ProgressCallback = Callable[[str], Awaitable[None]]


class ModelNotAvailable(RuntimeError):
    """The model cannot be loaded or reached; the message says what the user can do."""


class ModelBackend(Protocol):
    @property
    def name(self) -> str:
        """A human-readable name shown in `agentInfo` and the model config option."""
        ...

    def start_loading(self) -> None:
        """Begin loading in the background (no-op for backends with nothing to load)."""
        ...

    async def ensure_ready(self, on_progress: ProgressCallback) -> None:
        """Wait until the model can serve; report progress text while waiting.

        Raises `ModelNotAvailable` with a clear message when it never will be.
        """
        ...

    def model_for(self, session_id: str) -> Model:
        """The PydanticAI model a session's turns run on."""
        ...

    def forget_session(self, session_id: str) -> None:
        """Drop per-session state (a closed session's cache)."""
        ...

    async def aclose(self) -> None: ...


class StatelessBackend:
    """A backend whose one `Model` serves every session and needs no loading."""

    def __init__(self, model: Model, name: str) -> None:
        self._model = model
        self._name = name

    @property
    def name(self) -> str:
        return self._name

    def start_loading(self) -> None:
        return None

    async def ensure_ready(self, on_progress: ProgressCallback) -> None:
        return None

    def model_for(self, session_id: str) -> Model:
        return self._model

    def forget_session(self, session_id: str) -> None:
        return None

    async def aclose(self) -> None:
        return None


class UnavailableBackend:
    """Stands in for a backend that could not be built (a missing script, a bad model spec).

    `punie serve` has already answered `initialize` by the time it knows; rather than exit
    under an editor that is waiting, it serves on and every prompt fails with `reason`.
    """

    def __init__(self, reason: str) -> None:
        self._reason = reason

    @property
    def name(self) -> str:
        return "unavailable"

    def start_loading(self) -> None:
        return None

    async def ensure_ready(self, on_progress: ProgressCallback) -> None:
        raise ModelNotAvailable(self._reason)

    def model_for(self, session_id: str) -> Model:
        raise ModelNotAvailable(self._reason)

    def forget_session(self, session_id: str) -> None:
        return None

    async def aclose(self) -> None:
        return None
