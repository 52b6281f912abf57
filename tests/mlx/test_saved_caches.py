"""KV caches that survive a restart (persist.py), through the real mlx path with fabricated models:
a reopened session prefills only what its saved cache does not cover."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest

from punie_acp.config import Settings
from punie_acp.models.mlx import MlxBackend
from punie_acp.models.mlx.jobs import JobStats
from punie_acp.models.mlx.persist import SavedCaches
from punie_acp.store.layout import discard_caches
from tests.mlx.agents import Tools, make_agent, stream_run

pytestmark = pytest.mark.anyio

Start = Callable[..., Awaitable[MlxBackend]]


async def _quiet(text: str) -> None:
    return None


@pytest.fixture
async def start() -> AsyncIterator[Start]:
    """A backend per 'server run' (each `aclose` is a shutdown); `saved` is its cache directory."""
    made: list[MlxBackend] = []

    async def run(model: Path, saved: SavedCaches | None) -> MlxBackend:
        backend = MlxBackend(str(model), Settings())
        backend.engine.saved = saved
        made.append(backend)
        backend.start_loading()
        await backend.ensure_ready(_quiet)
        return backend

    yield run
    for backend in made:
        await backend.aclose()


def last(backend: MlxBackend) -> JobStats:
    return backend.engine.history[-1]


async def test_a_reopened_session_prefills_only_what_its_saved_cache_does_not_cover(
    model_dirs: dict[str, Path], start: Start, tmp_path: Path
) -> None:
    kv = tmp_path / "kv-cache"
    first = await start(model_dirs["json"], SavedCaches(kv, 1 << 30))
    run = await stream_run(make_agent(first, "s1", Tools()), "What do my notes say?")
    history = run.result.all_messages()
    covered = last(first).prompt_tokens + last(first).generated_tokens
    await first.aclose()  # the server stops: the cache is saved when the model thread goes idle or closes
    [saved_file] = list(kv.iterdir())
    assert saved_file.name.startswith("s1.") and saved_file.stat().st_mode & 0o077 == 0

    # After a restart, the next prompt reuses the saved prefix: only the new turn is prefilled.
    again = await start(model_dirs["json"], SavedCaches(kv, 1 << 30))
    await stream_run(make_agent(again, "s1", Tools()), "And the other notes?", history)
    warm = last(again)
    assert again.engine.saved is not None and 0 < again.engine.saved.restored_tokens <= covered
    assert warm.cached_tokens > 0 and warm.prefilled_tokens == warm.prompt_tokens - warm.cached_tokens
    await again.aclose()

    # The same request on a server that keeps no caches prefills all of it.
    cold_backend = await start(model_dirs["json"], None)
    await stream_run(make_agent(cold_backend, "s1", Tools()), "And the other notes?", history)
    cold = last(cold_backend)
    assert cold.prompt_tokens == warm.prompt_tokens and cold.cached_tokens == 0
    assert cold.prefilled_tokens == cold.prompt_tokens
    assert warm.prefilled_tokens * 4 < cold.prefilled_tokens


async def test_a_cache_from_another_model_or_damaged_is_not_used(
    model_dirs: dict[str, Path], start: Start, tmp_path: Path
) -> None:
    kv = tmp_path / "kv-cache"
    first = await start(model_dirs["direct"], SavedCaches(kv, 1 << 30))
    history = (await stream_run(make_agent(first, "s1"), "hi")).result.all_messages()
    await first.aclose()
    [saved_file] = list(kv.iterdir())

    # Another model never reads this session's file (files are named and stamped by model identity).
    other = await start(model_dirs["runs_on"], SavedCaches(kv, 1 << 30))
    await stream_run(make_agent(other, "s1"), "again", history)
    assert other.engine.saved is not None and other.engine.saved.restored_tokens == 0
    assert last(other).cached_tokens == 0
    await other.aclose()
    assert saved_file.exists()  # and leaves it alone

    # The right model, but the file was damaged: it is dropped and the prompt is prefilled in full.
    saved_file.write_bytes(saved_file.read_bytes()[:100])
    again = await start(model_dirs["direct"], SavedCaches(kv, 1 << 30))
    await stream_run(make_agent(again, "s1"), "again", history)
    assert last(again).cached_tokens == 0 and last(again).prefilled_tokens == last(again).prompt_tokens
    assert not saved_file.exists() or saved_file.stat().st_size > 100  # dropped, or saved anew at idle


async def test_saved_caches_stay_within_their_bound_least_recently_used_first(
    model_dirs: dict[str, Path], start: Start, tmp_path: Path
) -> None:
    kv = tmp_path / "kv-cache"
    probe = await start(model_dirs["direct"], SavedCaches(kv, 1 << 30))
    await stream_run(make_agent(probe, "a"), "hi")
    await probe.aclose()
    one = next(kv.iterdir()).stat().st_size
    bounded = await start(model_dirs["direct"], SavedCaches(kv, int(one * 2.5)))
    for sid in ("b", "c", "d"):
        await stream_run(make_agent(bounded, sid), "hi")
        await bounded.engine.call(lambda: None)  # let the thread go idle and save
    await bounded.aclose()
    names = sorted(p.name.split(".")[0] for p in kv.iterdir())
    assert names == ["c", "d"]  # "a" and "b" were least recently used
    discard_caches(kv, "c")
    assert sorted(p.name.split(".")[0] for p in kv.iterdir()) == ["d"]


async def test_after_session_load_the_first_prompt_prefills_only_the_new_turn(
    model_dirs: dict[str, Path], tmp_path: Path, project: Path
) -> None:
    """The whole path: the core restores the history from the store, the template renders it again,
    and the saved cache covers all of it but the new turn."""
    import shutil

    from punie_acp.core.events import Event
    from punie_acp.core.host import LocalHost
    from punie_acp.core.service import CoreService
    from punie_acp.store.sqlite import SqliteStore
    from punie_acp.tools.registry import default_tools

    async def ignore(event: Event) -> None:
        return None

    async def server(db: Path, saved: SavedCaches | None) -> tuple[CoreService, MlxBackend]:
        backend = MlxBackend(str(model_dirs["acp"]), Settings())
        backend.engine.saved = saved
        backend.start_loading()
        await backend.ensure_ready(_quiet)
        return CoreService(backend, Settings(log_file=""), default_tools(), store=SqliteStore(db)), backend

    kv = tmp_path / "kv-cache"
    core, _ = await server(tmp_path / "first.db", SavedCaches(kv, 1 << 30))
    session = core.open_session(str(project), lambda _sid: LocalHost("allow_once"))
    assert (await core.run_turn(session.id, "What does hello.py do?", ignore)).stop_reason == "end_turn"
    await core.aclose()

    counts = {}
    for name, saved in (("warm", SavedCaches(kv, 1 << 30)), ("cold", None)):
        db = tmp_path / f"{name}.db"
        shutil.copyfile(tmp_path / "first.db", db)
        core, backend = await server(db, saved)
        await core.load_session(session.id, str(project), lambda _sid: LocalHost("allow_once"))
        await core.run_turn(session.id, "And then?", ignore)
        counts[name] = backend.engine.history[0]  # the first request after the restart
        await core.aclose()
    warm, cold = counts["warm"], counts["cold"]
    assert warm.prompt_tokens == cold.prompt_tokens > 100
    assert cold.cached_tokens == 0 and cold.prefilled_tokens == cold.prompt_tokens
    assert warm.cached_tokens > 0 and warm.prefilled_tokens == warm.prompt_tokens - warm.cached_tokens
    # Exactly what a server that never stopped prefills for the same prompt (the template drops the
    # old turn's reasoning, so the common prefix ends inside that reply, as for any cache).
    core, backend = await server(tmp_path / "live.db", None)
    live_session = core.open_session(str(project), lambda _sid: LocalHost("allow_once"))
    await core.run_turn(live_session.id, "What does hello.py do?", ignore)
    await core.run_turn(live_session.id, "And then?", ignore)
    live = next(s for s in backend.engine.history if s.prompt_tokens == warm.prompt_tokens)
    await core.aclose()
    assert live.cached_tokens == warm.cached_tokens and live.prefilled_tokens == warm.prefilled_tokens
    assert warm.prefilled_tokens * 20 < cold.prefilled_tokens
