"""A stateless backend whose model is made on first use.

`--model test` answers with PydanticAI's classes; built at start-up it would import PydanticAI
before `session/new` is answered, which `core/preload.py` keeps off that path.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from punie_acp.models.base import StatelessBackend

if TYPE_CHECKING:
    from pydantic_ai.models import Model


class DeferredBackend(StatelessBackend):
    """`StatelessBackend` over `make()`, called on the first `model_for` (a turn: PydanticAI is loaded)."""

    def __init__(self, make: Callable[[], Model], name: str) -> None:
        self._make = make
        self._made: Model | None = None
        self._name = name

    def model_for(self, session_id: str) -> Model:
        if self._made is None:
            self._made = self._make()
        return self._made
