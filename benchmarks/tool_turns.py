"""A session of five tool turns: punie with its per-session KV cache, punie without it, and
PydanticAI → HTTP → `mlx_lm.server` on the same model; tokens prefilled and wall time of each,
and punie's prefill of each turn beside bare mlx-lm's of the same token counts (where prefill is
most of a turn, as on a CPU, that bounds how much faster than HTTP any client of mlx-lm can be).

The model must answer every request with a tool call: a scripted model (`mlx_backend.py`'s CPU
models, `tests.support.fabricate`) or a GPU-shaped one whose lm_head follows a script
(`script_rows`, used by `mlx_scale.py --scale`). `sessions(path, repeats, **settings)` passes
`settings` to the backend (a draft model for speculative decoding, a prefill step …).
"""

from __future__ import annotations

import contextlib
import itertools
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from pydantic_ai import Agent
from pydantic_ai.exceptions import UsageLimitExceeded
from pydantic_ai.messages import ModelResponse
from pydantic_ai.settings import ModelSettings
from pydantic_ai.usage import UsageLimits

from punie_acp.config import Settings
from punie_acp.models.mlx import MlxBackend
from punie_acp.models.mlx.model import MlxModel

RULES = "\n".join(f"Rule {i}: keep functions short, typed and tested; explain each change briefly." for i in range(40))
FILE_TEXT = "def area(r: float) -> float:\n    return 3.14159 * r * r\n" * 6
# What a GPU-shaped tool model says every time (its lm_head follows this chain, see `script_rows`).
SCALE_SCRIPT = ("<tool_call>", '\n{"name": "read_file", "arguments": {"path": "a.txt"}}\n', "</tool_call>")
Row = tuple[str, str, str, str, str]


class NoCacheModel(MlxModel):
    """The same model view with its session cache dropped before every request."""

    @asynccontextmanager
    async def request_stream(self, *args: Any, **kwargs: Any) -> Any:
        self._engine.forget(self._session_id)
        async with super().request_stream(*args, **kwargs) as stream:
            yield stream


async def tool_session(model: Any, run: int) -> tuple[float, list[ModelResponse]]:
    """Five model requests, each answered with a tool call that runs; wall time and the responses.

    `run` goes first in the instructions, so no two sessions share a cacheable prefix.
    """
    agent: Agent[None, str] = Agent(model, instructions=f"Session {run}.\n{RULES}")
    responses: list[ModelResponse] = []

    @agent.tool_plain
    def read_file(path: str) -> str:
        """Read a file of the project."""
        return FILE_TEXT

    started = time.perf_counter()
    settings = ModelSettings(max_tokens=64, temperature=0.0)
    async with agent.iter("Review a.txt and b.txt.", usage_limits=UsageLimits(request_limit=5),
                          model_settings=settings) as agent_run:  # fmt: skip
        with contextlib.suppress(UsageLimitExceeded):  # the 6th request is refused: 5 turns done
            async for node in agent_run:
                if Agent.is_call_tools_node(node):
                    responses.append(node.model_response)
    wall = time.perf_counter() - started
    assert len(responses) == 5 and all(len(r.parts) == 1 for r in responses), responses
    return wall, responses


def new_content(history: list[Any]) -> int:
    """Tokens each request adds beyond what the previous request saw and generated."""
    total, previous = 0, 0
    for stats in history:
        total += stats.prompt_tokens - previous
        previous = stats.prompt_tokens + stats.generated_tokens
    return total


def bare_prefills(backend: MlxBackend, counts: Sequence[int]) -> list[float]:
    """Seconds bare mlx-lm takes to prefill `counts` tokens one after another into one KV cache, in
    punie's chunk size; run it on the model thread (`engine.call`). What the turns' prefill costs
    without punie: where it is most of a turn, no client of the same engine can be much faster."""
    import mlx.core as mx
    from mlx_lm.models.cache import make_prompt_cache

    loaded, step = backend.engine.loaded, backend.engine.prefill.step
    assert loaded is not None
    cache = make_prompt_cache(loaded.model)
    ids = itertools.cycle(range(10, 1000))  # ordinary token ids; prefill cost does not depend on them
    seconds: list[float] = []
    for count in counts:
        started = time.perf_counter()
        for first in range(0, count, step):
            chunk = [next(ids) for _ in range(min(step, count - first))]
            loaded.model(mx.array(chunk)[None], cache=cache)
            mx.eval([c.state for c in cache])
        seconds.append(time.perf_counter() - started)
    return seconds


async def sessions(path: Path, repeats: int, label: str = "", **settings: Any) -> list[Row]:
    """punie with its cache, punie without, and HTTP → mlx_lm.server, interleaved; best wall time of each.

    `settings` go to punie's backend (`Settings(**settings)`), e.g. `draft_model=…`.
    """
    from pydantic_ai.models.openai import OpenAIChatModel
    from pydantic_ai.providers.openai import OpenAIProvider

    backend = MlxBackend(str(path), Settings(**settings))

    async def ignore(text: str) -> None:
        return None

    await backend.ensure_ready(ignore)
    engine = backend.engine
    walls: dict[str, list[float]] = {"warm": [], "cold": [], "http": []}
    prefilled: dict[str, int] = {}
    with mlx_server(path) as url:
        http_model = OpenAIChatModel("default_model", provider=OpenAIProvider(base_url=url, api_key="none"))
        for run in range(repeats):
            wall, _ = await tool_session(backend.model_for(f"warm{run}"), 3 * run)
            walls["warm"].append(wall)
            cached = list(engine.history)[-5:]
            wall, responses = await tool_session(http_model, 3 * run + 1)
            walls["http"].append(wall)
            prefilled["http"] = sum(r.usage.input_tokens - r.usage.cache_read_tokens for r in responses)
            if run == 0:  # slow, and the same every time
                cold_model = NoCacheModel(engine, "cold", backend.settings, backend.name)
                walls["cold"].append((await tool_session(cold_model, 3 * run + 2))[0])
                prefilled["cold"] = sum(s.prefilled_tokens for s in list(engine.history)[-5:])
        bare = await engine.call(lambda: bare_prefills(backend, [s.prefilled_tokens for s in cached]))
    await backend.aclose()

    fresh, warm_prefilled = new_content(cached), sum(s.prefilled_tokens for s in cached)
    turns = "; ".join(
        f"{s.prefilled_tokens}/{s.prefill_s * 1000:.0f}, {s.generated_tokens}/{s.decode_s * 1000:.0f}" for s in cached
    )
    warm, cold, http = (min(walls[k]) for k in ("warm", "cold", "http"))
    baseline = f"{prefilled['cold']} without cache; {prefilled['http']} via mlx_lm.server"
    return [
        (f"{label}5 tool turns: tokens prefilled", f"{warm_prefilled} (new content {fresh})", baseline,
         f"{warm_prefilled / fresh:.2f}x new content", "≤1.1x new content"),
        (f"{label}5 tool turns: wall time (best of {repeats})", f"{warm:.2f} s",
         f"{cold:.2f} s without cache; {http:.2f} s via HTTP",
         f"{cold / warm:.2f}x / {http / warm:.2f}x faster", "≥1.5x faster than HTTP"),
        (f"{label}5 tool turns, last punie run: tokens/ms prefilled, generated", turns, "-", "-", "-"),
        (f"{label}5 tool turns: punie's prefills vs the same in bare mlx-lm (ms)",
         ", ".join(f"{s.prefill_s * 1000:.0f}" for s in cached), ", ".join(f"{b * 1000:.0f}" for b in bare),
         f"{sum(s.prefill_s for s in cached) / sum(bare):.2f}x", "-"),
    ]  # fmt: skip


class mlx_server:
    """`python -m mlx_lm.server` on a free loopback port, stopped by its own pid."""

    def __init__(self, path: Path) -> None:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = sock.getsockname()[1]
        cmd = [sys.executable, "-m", "mlx_lm.server", "--model", str(path), "--port", str(self.port)]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def __enter__(self) -> str:
        url = f"http://127.0.0.1:{self.port}/v1"
        for _ in range(3000):  # a GPU-shaped model takes a while to load
            try:
                urllib.request.urlopen(url + "/models", timeout=1).read()
                return url
            except OSError:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"mlx_lm.server exited ({self.proc.returncode})") from None
                time.sleep(0.2)
        raise RuntimeError("mlx_lm.server did not start")

    def __exit__(self, *exc: object) -> None:
        self.proc.terminate()
        self.proc.wait(30)


def script_rows(path: Path, head: Any, embed: Any, marker: Any, pieces: Sequence[str] = SCALE_SCRIPT) -> Any:
    """`head` (an mlx lm_head weight) with the rows that make greedy decoding say `pieces`, then stop.

    In `mlx_scale.py`'s models the residual stream is the token embedding (plus a constant on
    axis 0, `marker`); the row of each piece is a multiple of its predecessor's embedding (that
    axis left out), so the piece leads every other token by a wide margin exactly when its
    predecessor is the last token: the generation prompt's last token → pieces → `<|im_end|>`.
    """
    import mlx.core as mx
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(path))
    rendered = tokenizer.apply_chat_template([{"role": "user", "content": "hi"}], tokenize=False,
                                             add_generation_prompt=True)  # fmt: skip
    trigger = int(tokenizer.encode(rendered, add_special_tokens=False)[-1])
    ids = [trigger, *(_one_token(tokenizer, p) for p in (*pieces, "<|im_end|>"))]
    plain = embed * (1 - marker)
    for previous, following in itertools.pairwise(ids):
        row = plain[previous] / mx.sqrt(mx.sum(plain[previous] * plain[previous]))
        head[following] = row * 40.0  # the next token leads by ~40·√d·|e|/rms: far beyond sampling noise
    return head


def _one_token(tokenizer: Any, piece: str) -> int:
    ids = tokenizer.encode(piece, add_special_tokens=False)
    if len(ids) != 1:
        raise ValueError(f"script piece {piece!r} is {len(ids)} tokens")
    return int(ids[0])
