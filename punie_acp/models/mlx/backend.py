"""`MlxBackend`: a quantized Qwen3 loaded in-process through mlx-lm, shared by every session.

`start_loading()` starts the model thread (which imports mlx-lm and reads the weights);
`ensure_ready()` waits for it while reporting measured progress; `model_for(session_id)` gives
each session a PydanticAI `Model` view whose KV cache is kept per session (LRU-bounded by
`settings.max_cached_sessions`). Importing this module does not import mlx.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import PurePath
from typing import TYPE_CHECKING

from punie_acp.config import Settings
from punie_acp.models.base import ProgressCallback
from punie_acp.models.mlx.engine import Engine

if TYPE_CHECKING:
    from pydantic_ai.models import Model

_REPORT_EVERY_S = 0.5
_REPEAT_AFTER_S = 2.0


class MlxBackend:
    def __init__(self, spec: str, settings: Settings, *, prefill_step: int | None = None) -> None:
        self._spec = spec
        self.settings = settings
        self.engine = Engine(spec, settings, prefill_step=prefill_step)

    @property
    def name(self) -> str:
        return PurePath(self._spec.rstrip("/")).name or self._spec

    def start_loading(self) -> None:
        self.engine.start()

    async def ensure_ready(self, on_progress: ProgressCallback) -> None:
        """Wait for the model; `on_progress` gets text like 'Loading X: reading model weights 42% …'."""
        engine = self.engine
        engine.start()
        last_text, last_time = "", 0.0
        while not engine.ready:
            if engine.error is not None:
                break
            text = engine.progress.describe(self.name)
            now = time.monotonic()
            if (text != last_text and now - last_time >= _REPORT_EVERY_S) or now - last_time >= _REPEAT_AFTER_S:
                await on_progress(text)
                last_text, last_time = text, now
            await asyncio.sleep(0.05)
        await engine.wait_ready()

    def model_for(self, session_id: str) -> Model:
        from punie_acp.models.mlx.model import MlxModel

        return MlxModel(self.engine, session_id, self.settings, self.name)

    def forget_session(self, session_id: str) -> None:
        self.engine.forget(session_id)

    async def aclose(self) -> None:
        await self.engine.aclose()
