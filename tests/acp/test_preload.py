"""The start-up preload (core/preload.py): a failed import reaches whoever waits, and waiting
does not hold the event loop."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import anyio
import pytest

from punie_acp.core.preload import Preload

pytestmark = pytest.mark.anyio


async def test_an_import_failure_is_raised_to_every_waiter() -> None:
    preload = Preload(("punie_acp.no_such_module",))
    for _ in range(2):
        with pytest.raises(ModuleNotFoundError):
            await preload.ready()
    assert preload.done


async def test_waiting_keeps_the_event_loop_running_and_then_runs_after_the_imports() -> None:
    release = threading.Event()
    ran: list[str] = []

    def then() -> None:
        release.wait(60)
        ran.append(threading.current_thread().name)

    preload = Preload(("json",), then=then)
    ticks = 0
    async with anyio.create_task_group() as tg:
        tg.start_soon(preload.ready)
        while ticks < 20:  # the loop turns while the preload thread is held
            await anyio.sleep(0.001)
            ticks += 1
        assert not preload.done
        release.set()
    assert preload.done and ran == ["punie-preload"]


def test_the_server_and_its_backends_import_without_pydantic_ai_or_mlx(tmp_path: Path) -> None:
    """What `punie serve` imports before answering `session/new`, for the mlx and `test` models."""
    code = (
        "import sys, punie_acp.acp.server, punie_acp.models.registry as r\n"
        "from punie_acp.config import Settings\n"
        "r.resolve_backend(sys.argv[1], Settings()); r.resolve_backend('test', Settings())\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'pydantic_ai', 'mlx', 'mlx_lm', 'lsprotocol'}))"
    )
    env = {**os.environ, "XDG_STATE_HOME": str(tmp_path), "XDG_CONFIG_HOME": str(tmp_path)}
    done = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path / "some-model")], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
