"""Generation settings as PydanticAI `model_settings`, sent with every model request.

Every backend reads them from the request (the OpenAI-compatible one puts them in the request
body; the mlx one samples with them), so a session's values apply whatever the model is.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from punie_acp.settings.schema import Settings

if TYPE_CHECKING:  # PydanticAI costs about a second to import; `punie serve` answers before that
    from pydantic_ai.settings import ModelSettings


def generation_settings(settings: Settings) -> ModelSettings:
    given: ModelSettings = {
        "max_tokens": settings.max_tokens,
        "temperature": settings.temperature,
        "top_p": settings.top_p,
    }
    if settings.seed is not None:  # only when set: a seed changes how some servers sample
        given["seed"] = settings.seed
    return given
