"""The first request after loading finds the warm-up's once-per-process work done: it imports
nothing, compiles no chat template and loads no price table (each cost the dense 0.6B-shaped
model's first prompt ~0.5 s on a GPU). In a fresh interpreter, since this one has done all that.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

PROBE = """
import asyncio, json, sys
import anyio
from pydantic_ai import Agent
from punie_acp.config import Settings
from punie_acp.models.mlx import MlxBackend
from transformers.utils import chat_template_utils

async def main(path):
    backend = MlxBackend(path, Settings(max_tokens=4))
    async def quiet(text): pass
    await anyio.sleep(0)  # the server runs on anyio: its backend is loaded long before a prompt
    await backend.ensure_ready(quiet)
    before = set(sys.modules)
    compiled = chat_template_utils._compile_jinja_template.cache_info().misses
    async with Agent(backend.model_for("s")).run_stream_events("hello") as events:
        async for _ in events:
            pass
    after = chat_template_utils._compile_jinja_template.cache_info().misses
    await backend.aclose()
    print(json.dumps({"imported": sorted(set(sys.modules) - before), "templates compiled": after - compiled}))

asyncio.run(main(sys.argv[1]))
"""


def test_the_first_request_after_loading_imports_and_compiles_nothing(model_dirs: dict[str, Path]) -> None:
    done = subprocess.run(
        [sys.executable, "-c", PROBE, str(model_dirs["direct"])], capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout.strip().splitlines()[-1])
    assert found == {"imported": [], "templates compiled": 0}, found
