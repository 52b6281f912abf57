"""Benchmark: time to first token of the first prompt after `session/load` of a ~10k-token session,
with the session's KV cache saved beside the store (models/mlx/persist.py) and without it.

    python benchmarks/session_reopen.py                 # ~10k-token session, scripted model
    python benchmarks/session_reopen.py --tokens 3000   # smaller, CI-sized
    python benchmarks/session_reopen.py --shape small   # a larger fabricated model (slower)

Each "server run" is a fresh `CoreService` + `MlxBackend` on the same SQLite store, as after a
restart: run 1 builds the session (a long first prompt, then two short turns) and shuts down (the
cache is saved when the model thread goes idle); runs 2 and 3 each start from a copy of that store,
load the session (history restored from the store), and send one more prompt, one with the saved
cache directory and one without. The model is loaded before timing starts. Fabricated models
(tests.support.fabricate), float32 on the CPU.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path

OPENBLAS = "/usr/lib/x86_64-linux-gnu/openblas-pthread/libopenblas.so.0"
if Path(OPENBLAS).exists() and OPENBLAS not in os.environ.get("LD_PRELOAD", ""):
    os.environ["LD_PRELOAD"] = OPENBLAS
    os.execv(sys.executable, [sys.executable, *sys.argv])

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from punie_acp.config import Settings  # noqa: E402
from punie_acp.core.events import Event, TextDelta, ThoughtDelta  # noqa: E402
from punie_acp.core.host import LocalHost  # noqa: E402
from punie_acp.core.service import CoreService  # noqa: E402
from punie_acp.models.mlx import MlxBackend  # noqa: E402
from punie_acp.models.mlx.jobs import JobStats  # noqa: E402
from punie_acp.models.mlx.persist import SavedCaches  # noqa: E402
from punie_acp.store.sqlite import SqliteStore  # noqa: E402
from punie_acp.tools.registry import default_tools  # noqa: E402
from tests.support.fabricate import SCRIPTED, ModelShape, Script, write_scripted_model  # noqa: E402

SMALL = ModelShape(hidden_size=512, num_hidden_layers=4, intermediate_size=1536, num_attention_heads=8,
                   num_key_value_heads=4, head_dim=64, bpe_vocab=2048)  # fmt: skip
# Visible text from the first token on, in a loop (the reply is cut by max_tokens).
REPLY = Script(tuple(f" w{i}" for i in range(40)), loop=True)
WORDS = ("the", "file", "read", "write", "path", "project", "test", "function", "class", "return", "value")
LATER = ("Summarise what you found.", "Which function is the slowest?")
NEXT = "Now fix the slowest one."


async def _quiet(text: str) -> None:
    return None


def long_prompt(backend: MlxBackend, tokens: int) -> str:
    """Text of about `tokens` tokens for this model's tokenizer (a pasted file, say)."""
    loaded = backend.engine.loaded
    assert loaded is not None
    rng = random.Random(7)
    lines: list[str] = []
    count = 0
    while count < tokens:
        batch = [" ".join(rng.choice(WORDS) for _ in range(12)) for _ in range(5)]
        lines += batch
        count += len(loaded.tokenizer.encode("\n".join(batch)))
    return "Here is the log:\n" + "\n".join(lines)


async def server_run(model: Path, db: Path, kv: Path | None) -> tuple[CoreService, MlxBackend]:
    backend = MlxBackend(str(model), Settings(max_tokens=4))
    backend.engine.saved = SavedCaches(kv, 8 << 30) if kv is not None else None
    backend.start_loading()
    await backend.ensure_ready(_quiet)
    settings = Settings(max_tokens=4, log_file="", request_limit=2)
    return CoreService(backend, settings, default_tools(), store=SqliteStore(db)), backend


async def build_session(model: Path, db: Path, kv: Path, project: Path, tokens: int) -> tuple[str, int]:
    core, backend = await server_run(model, db, kv)
    session = core.open_session(str(project), lambda _sid: LocalHost())

    async def ignore(event: Event) -> None:
        return None

    await core.run_turn(session.id, long_prompt(backend, tokens), ignore)
    for prompt in LATER:
        await core.run_turn(session.id, prompt, ignore)
    size = backend.engine.history[-1].prompt_tokens + backend.engine.history[-1].generated_tokens
    await core.aclose()  # shutdown: the model thread saves the cache before it ends
    return session.id, size


# session/load seconds, time to first token, the prompt's stats
Reopened = tuple[float, float, JobStats]


async def reopen(model: Path, db: Path, kv: Path | None, project: Path, session_id: str) -> Reopened:
    core, backend = await server_run(model, db, kv)
    started = time.perf_counter()
    await core.load_session(session_id, str(project), lambda _sid: LocalHost())
    loaded = time.perf_counter() - started
    first: list[float] = []

    async def on_event(event: Event) -> None:
        if isinstance(event, TextDelta | ThoughtDelta) and not first:
            first.append(time.perf_counter())

    started = time.perf_counter()
    await core.run_turn(session_id, NEXT, on_event)
    stats = backend.engine.history[-1]
    await core.aclose()
    assert first, "the model streamed nothing"
    return loaded, first[0] - started, stats


async def main(tokens: int, shape: str, workdir: Path) -> None:
    model = workdir / f"reply-{shape}"
    if not (model / "model.safetensors").exists():
        write_scripted_model(model, REPLY, shape=SMALL if shape == "small" else SCRIPTED)
    project = workdir / "project"
    project.mkdir(exist_ok=True)
    built = workdir / "built.db"
    for stale in workdir.glob("built.db*"):
        stale.unlink()
    kv = workdir / "kv-cache"
    shutil.rmtree(kv, ignore_errors=True)
    session_id, size = await build_session(model, built, kv, project, tokens)
    results: dict[str, Reopened] = {}
    for name, caches in (("saved KV cache", kv), ("no saved cache", None)):
        db = workdir / f"{name.split()[0]}.db"
        shutil.copyfile(built, db)
        results[name] = await reopen(model, db, caches, project, session_id)
    saved_bytes = sum(p.stat().st_size for p in kv.iterdir())
    print(f"\nsession of {size} tokens; model {shape} ({model.name}); saved cache {saved_bytes / 1e6:.1f} MB\n")
    print("| reopened with | session/load | time to first token | prompt tokens | from cache | prefilled |")
    print("|---|---|---|---|---|---|")
    for name, (loaded, ttft, stats) in results.items():
        print(
            f"| {name} | {loaded * 1000:.0f} ms | {ttft * 1000:.0f} ms | {stats.prompt_tokens} "
            f"| {stats.cached_tokens} | {stats.prefilled_tokens} |"
        )
    warm, cold = results["saved KV cache"][1], results["no saved cache"][1]
    print(f"\ntime to first token: {cold / warm:.1f}x faster with the saved cache")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    # The system prompt with the tools' schemas adds ~5k tokens: 5,000 here makes a ~10k-token session.
    parser.add_argument("--tokens", type=int, default=5_000, help="size of the session's first prompt in tokens")
    parser.add_argument("--shape", choices=("scripted", "small"), default="scripted")
    parser.add_argument("--workdir", type=Path, default=None, help="kept between runs (models are reused)")
    args = parser.parse_args()
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="punie-reopen-"))
    workdir.mkdir(parents=True, exist_ok=True)
    asyncio.run(main(args.tokens, args.shape, workdir))
